// R Bridge: Swagger UI on the bridge's own /openapi.json, served from local
// files (production hosts are often offline, so no CDN).
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  defaultModelsExpandDepth: 0,
});
