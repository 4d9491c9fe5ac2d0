from needleplan.cli.main import run

run()
