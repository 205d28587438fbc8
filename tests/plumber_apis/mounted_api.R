# Routers mounted in a @plumber block, one inside another, beside a plain route.

#* @plumber
function(pr) {
  inner <- pr() %>%
    pr_get("/deep/<n:int>", function(n) list(n = n, class = class(n))) %>%
    pr_set_404(function(req, res) {
      res$status <- 404
      list(inner_missing = req$PATH_INFO)
    })
  v1 <- pr() %>%
    pr_get("/ping", function() "pong") %>%
    pr_post("/echo", function(x) list(x = x)) %>%
    pr_mount("/inner", inner)
  pr %>% pr_mount("/v1", v1)
}

#* @get /top
function() "top"
