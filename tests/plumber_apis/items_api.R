# Path parameters, query and body arguments, req/res, headers and statuses.

items <- list()

#* @get /items/<id:int>
function(id, res) {
  # typed path parameter: id arrives as an integer
  key <- as.character(id)
  if (is.null(items[[key]])) {
    res$status <- 404
    return(list(error = paste("no item", id), type = class(id)))
  }
  items[[key]]
}

#* @put /items/<id:int>
#* @serializer unboxedJSON
function(id, name, price = 0, req, res) {
  item <- list(id = id, name = name, price = as.numeric(price))
  new <- is.null(items[[as.character(id)]])
  items[[as.character(id)]] <<- item
  res$status <- if (new) 201 else 200
  res$setHeader("Location", paste0("/items/", id))
  item
}

#* @delete /items/<id:int>
function(id, res) {
  items[[as.character(id)]] <<- NULL
  res$status <- 204
  NULL
}

#* @get /items
function(limit = 10, sort = "id") {
  ids <- as.integer(names(items))
  list(count = length(items), limit = as.integer(limit), sort = sort, ids = sort(ids))
}

#* Several path parameters, typed and untyped
#* @get /shops/<shop>/items/<id:int>/price/<value:double>
function(shop, id, value) {
  list(shop = shop, id = id, value = value, types = c(class(shop), class(id), class(value)))
}

#* @get /flags/<on:bool>
function(on) {
  list(on = on, type = class(on))
}

#* Repeated query keys, and what plumber keeps in req
#* @get /echo/query
function(req) {
  list(args = req$argsQuery, path = req$PATH_INFO, method = req$REQUEST_METHOD)
}

#* The raw body and the parsed one
#* @post /echo/body
function(req) {
  list(postBody = req$postBody, body = req$body, argsBody = req$argsBody)
}

#* @post /echo/form
function(a, b = "none") {
  list(a = a, b = b)
}

#* @serializer unboxedJSON
#* @get /echo/headers
function(req, res) {
  res$setHeader("X-Echo", req$HTTP_X_REQUEST_ID %||% "none")
  res$setCookie("seen", "yes")
  list(request_id = req$HTTP_X_REQUEST_ID, agent_given = !is.null(req$HTTP_USER_AGENT),
       cookie = req$cookies$session)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

#* @serializer html
#* @get /page
function(name = "world") {
  paste0("<html><body><h1>Hello, ", name, "!</h1></body></html>")
}

#* @serializer png
#* @get /plot
function(n = 20) {
  n <- as.integer(n)
  plot(seq_len(n), (seq_len(n))^2, main = "squares")
}

#* @get /boom
function() {
  stop("something broke inside the endpoint")
}

#* An error after setting a status: plumber keeps the status
#* @get /teapot
function(res) {
  res$status <- 418
  stop("short and stout")
}

#* A response built by hand: plumber sends it as it is, without a serializer
#* @get /raw
function(res) {
  res$status <- 202
  res$body <- "accepted, by hand"
  res
}
