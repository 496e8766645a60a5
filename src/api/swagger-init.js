// Starts Swagger UI on the page /swagger serves (src/api/swagger.ts). A file
// of its own so the page's Content-Security-Policy allows no inline script.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  deepLinking: true,
  // The default sends the document to validator.swagger.io for a badge.
  validatorUrl: null,
});
