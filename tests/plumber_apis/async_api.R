# Asynchronous endpoints: promises resolved now, later, rejected, caught.

library(promises)

#* @get /async/value
function(x = "1") {
  promise_resolve(as.numeric(x)) %...>% (function(v) list(doubled = v * 2))
}

#* @get /async/later
function(ms = "30") {
  promise(function(resolve, reject) {
    later::later(function() resolve(list(waited = as.numeric(ms))), as.numeric(ms) / 1000)
  })
}

#* @get /async/fail
function() {
  promise_resolve(1) %...>% (function(v) stop("async failure"))
}

#* @get /async/status
function(res) {
  promise_resolve(1) %...>% (function(v) {
    res$status <- 202
    list(accepted = TRUE)
  })
}

#* @serializer text
#* @get /async/text
function() {
  promise_resolve(c("first", "second"))
}

#* @post /async/body
function(req) {
  promise_resolve(req$body) %...>% (function(b) list(got = b))
}

#* @get /async/caught
function() {
  promise_reject(simpleError("inner")) %...!% (function(e) list(caught = conditionMessage(e)))
}

#* Chained through then(), as Plumber's 13-promises example does
#* @get /async/chain
function(n = "3") {
  p <- promise_resolve(0)
  for (i in seq_len(as.integer(n))) p <- then(p, function(v) v + 1)
  p %...>% (function(v) list(steps = v))
}
