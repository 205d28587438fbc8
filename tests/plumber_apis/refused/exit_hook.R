con <- textConnection("log", "w")

#* @plumber
function(pr) {
  plumber::pr_hook(pr, "exit", function() close(con))
}

#* @get /hello
function() "hello"
