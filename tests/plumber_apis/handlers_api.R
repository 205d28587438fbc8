# A router changed in a @plumber block: own error and 404 handlers, a hook.

#* @plumber
function(pr) {
  pr |>
    plumber::pr_set_error(function(req, res, err) {
      res$status <- 503
      list(failed = conditionMessage(err))
    }) |>
    plumber::pr_set_404(function(req, res) {
      res$status <- 404
      list(missing = req$PATH_INFO)
    }) |>
    plumber::pr_hook("postroute", function(req, res, value) {
      res$setHeader("X-Hooked", "yes")
      value
    })
}

#* @get /square
function(x) {
  x <- as.numeric(x)
  if (is.na(x)) stop("x must be a number")
  list(square = x^2)
}
