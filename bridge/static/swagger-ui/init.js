// R Bridge: Swagger UI on the bridge's own /openapi.json, served from local
// files (production hosts are often offline, so no CDN).
//
// A bridge with API keys answers 401 to /openapi.json without one: the page
// then asks for a key, keeps it for this tab only, and sends it as a Bearer
// token with every request it makes (the document, and "Try it out").
const KEY = "r-bridge-api-key";

window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  defaultModelsExpandDepth: 0,
  requestInterceptor: (req) => {
    const key = sessionStorage.getItem(KEY);
    if (key) req.headers["Authorization"] = "Bearer " + key;
    return req;
  },
  responseInterceptor: (res) => {
    if (res.status === 401 && res.url.endsWith("openapi.json")) {
      const key = window.prompt("This bridge needs an API key:");
      if (key) {
        sessionStorage.setItem(KEY, key);
        window.location.reload();
      }
    }
    return res;
  },
});
