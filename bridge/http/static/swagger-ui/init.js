// R Bridge: Swagger UI on the bridge's own /openapi.json, served from local
// files (production hosts are often offline, so no CDN).
//
// With API keys on, /openapi.json asked without a key is only the document's
// security scheme: Swagger UI shows its own Authorize button. Once a key is
// given there, the full document is fetched again with it (a wrong key is
// answered 401 and shown as the document's load error: no prompt, no loop),
// and "Try it out" sends it as Swagger UI does for any secured operation.
// The key stays in this page: it is not stored anywhere.
const DOCUMENT = "openapi.json";

// The key given in the Authorize dialog, under either of the document's schemes.
function authorizedKey(system) {
  const auth = system.authSelectors.authorized().toJS();
  for (const scheme of ["bearerAuth", "apiKeyHeader"]) {
    if (auth[scheme] && auth[scheme].value) return auth[scheme].value;
  }
  return null;
}

// After Authorize (or Logout), fetch the document again with the key (or without).
const RefetchOnAuthorize = (system) => ({
  statePlugins: {
    auth: {
      wrapActions: {
        authorize: (original) => (payload) => {
          const result = original(payload);
          system.specActions.download(DOCUMENT);
          return result;
        },
        logout: (original) => (payload) => {
          const result = original(payload);
          system.specActions.download(DOCUMENT);
          return result;
        },
      },
    },
  },
});

window.ui = SwaggerUIBundle({
  url: DOCUMENT,
  dom_id: "#swagger-ui",
  deepLinking: true,
  defaultModelsExpandDepth: 0,
  plugins: [RefetchOnAuthorize],
  requestInterceptor: (req) => {
    // Operations get the key from Swagger UI itself; the document needs it added.
    if (req.loadSpec && window.ui) {
      const key = authorizedKey(window.ui);
      if (key) req.headers["Authorization"] = "Bearer " + key;
    }
    return req;
  },
});
