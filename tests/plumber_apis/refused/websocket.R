#* @plumber
function(pr) {
  pr$onWSOpen <- function(ws) ws$send("hi")
  pr
}

#* @get /hello
function() "hello"
