library(promises)

#* @get /slow
function() {
  future_promise({ Sys.sleep(1); 42 }) %...>% (function(x) list(answer = x))
}
