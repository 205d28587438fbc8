# Filters: one logs into a header, one checks a key; a preempted public route.

#* @filter tag
function(req, res) {
  res$setHeader("X-Served-By", "filter_api")
  plumber::forward()
}

#* @filter auth
function(req, res) {
  if (!identical(req$HTTP_X_API_KEY, "secret")) {
    res$status <- 401
    return(list(error = "missing or wrong X-API-Key"))
  }
  req$user <- "alice"
  plumber::forward()
}

#* Public: runs before the auth filter
#* @preempt auth
#* @get /public
function() {
  list(public = TRUE)
}

#* @get /private
function(req) {
  list(user = req$user)
}

#* @post /private/double
function(x) {
  list(result = as.numeric(x) * 2)
}
