#* @plumber
function(pr) {
  sub <- plumber::pr() |> plumber::pr_get("/ping", function() "pong")
  plumber::pr_mount(pr, "/sub", sub)
}

#* @get /hello
function() "hello"
