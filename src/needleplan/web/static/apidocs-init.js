// Starts Swagger UI on /docs from the files this server ships (no CDN, no inline script: the
// page's Content-Security-Policy allows scripts from this site only).
(function () {
  "use strict";
  var root = document.getElementById("apidocs");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
  });
})();
