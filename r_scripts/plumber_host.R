# Serving plumber.R files inside the bridge.
#
# The bridge does not re-implement Plumber: it loads each file with
# plumber::pr(), as plumber::pr_run() would, and hands every request to that
# router's own $call() with the Rook request httpuv would have built. How
# arguments reach functions, req/res, serializers, filters, errors and 404/405
# all come from Plumber itself. This file adds what pr_run() and httpuv do
# around the router (working directory, debug flag, Rook environment, the
# response as bytes) and refuses, at load, what cannot carry over.
#
# bridge/plumber.py sources this file once into its own environment.

# ---- what a file declares ----------------------------------------------------

# Reasons the file cannot be served, read from its text before anything in it
# runs. Each names the line and says what to do instead.
plumber_host_refusals <- function(file) {
  lines <- readLines(file, warn = FALSE, encoding = "UTF-8")
  out <- character(0)
  at <- function(i, what) sprintf("%s:%d: %s", basename(file), i, what)
  for (i in grep("^#['*]\\s*@assets\\b", lines)) {
    out <- c(out, at(i, paste(
      "@assets (static files) is not served by the bridge: serve static files",
      "from a web server or CDN in front of it, and keep R endpoints here")))
  }
  # plumber only says "Error sourcing <file>": say where R's parser stopped.
  parsed <- tryCatch(parse(file, keep.source = TRUE, encoding = "UTF-8"), error = function(e)
    stop(sprintf("R cannot parse %s: %s", basename(file), conditionMessage(e)), call. = FALSE))
  tokens <- utils::getParseData(parsed)
  code <- tokens[tokens$terminal & tokens$token != "COMMENT", c("line1", "token", "text")]
  async_pkgs <- c("promises", "future", "later", "coro", "mirai")
  for (k in seq_len(nrow(code))) {
    tok <- code$token[k]
    txt <- code$text[k]
    bad <- NULL
    if (tok == "SYMBOL_PACKAGE" && txt %in% async_pkgs) {
      bad <- sprintf("%s:: (asynchronous endpoints)", txt)
    } else if (tok == "SPECIAL" && grepl("^%\\.\\.\\.", txt)) {
      bad <- sprintf("the promise pipe %s (asynchronous endpoints)", txt)
    } else if (tok == "SYMBOL_FUNCTION_CALL" &&
               txt %in% c("library", "require", "requireNamespace")) {
      rest <- code$text[k + seq_len(3)]
      pkg <- gsub("[\"']", "", rest[rest != "("][1])
      if (!is.na(pkg) && pkg %in% async_pkgs) {
        bad <- sprintf("%s(%s) (asynchronous endpoints)", txt, pkg)
      }
    } else if (txt == "onWSOpen") {
      bad <- "websockets (onWSOpen)"
    }
    if (!is.null(bad)) {
      out <- c(out, at(code$line1[k], paste(
        bad, "is not served by the bridge: each request runs to completion on the",
        "bridge's R thread; make the endpoint synchronous, or keep it on Plumber")))
    }
  }
  unique(out)
}

# ---- loading -----------------------------------------------------------------

plumber_host_refuse <- function(reasons) {
  stop(structure(class = c("plumber_refused", "error", "condition"),
                 list(message = paste(reasons, collapse = "\n"), call = NULL)))
}

# The router for one file, ready to take requests: list(router, file, dir,
# routes = data.frame(verb, path)). Errors of class plumber_refused say why a
# file cannot be served; other errors are the file's own (as plumb() reports).
plumber_host_load <- function(file) {
  file <- normalizePath(file, mustWork = TRUE)
  reasons <- plumber_host_refusals(file)
  if (length(reasons)) plumber_host_refuse(reasons)
  pr <- plumber::pr(file)  # evaluates the file in its own folder, as plumb() does
  private <- pr$.__enclos_env__$private
  reasons <- character(0)
  if (length(pr$mounts)) {
    reasons <- c(reasons, sprintf(
      paste("%s: mounted routers (%s) are not served by the bridge;",
            "put their endpoints in files of their own"),
      basename(file), paste(names(pr$mounts), collapse = ", ")))
  }
  if (length(private$hooks$exit)) {
    reasons <- c(reasons, sprintf(
      "%s: an \"exit\" hook would never run (the bridge does not stop routers); remove it",
      basename(file)))
  }
  if (length(reasons)) plumber_host_refuse(reasons)
  # pr_run() takes debug from the router, else interactive(), which is FALSE
  # under Rscript but TRUE in an embedded R: pin what Rscript would do, so
  # error messages do not leak to callers unless the file asks for them.
  if (is.null(private$debug)) pr$setDebug(FALSE)
  plumber_host_mark_body_errors(pr)
  routes <- do.call(rbind, c(
    list(data.frame(verb = character(0), path = character(0))),
    lapply(unlist(pr$endpoints, use.names = FALSE), function(e)
      data.frame(verb = e$verbs, path = e$path))))
  list(router = pr, file = file, dir = dirname(file), routes = routes)
}

# plumber_host_load() for a caller that wants the failure as a value:
# list(api) or list(error = message, refused = TRUE when a feature is refused).
plumber_host_try_load <- function(file) {
  tryCatch(list(api = plumber_host_load(file)), error = function(e)
    list(error = conditionMessage(e), refused = inherits(e, "plumber_refused")))
}

# Verbs a loaded API serves on a concrete path (character(0): none).
plumber_host_allowed <- function(api, path) {
  as.character(plumber:::allowed_verbs(api$router, path))
}

# A body the parser cannot read is the caller's mistake: Plumber answers 500,
# the bridge 400 (a deliberate difference, docs/plumber.md). Every parser of the
# router is wrapped to raise a classed condition, and the error handler,
# Plumber's or the file's own, is wrapped to recognise it and leave the answer
# to the bridge.
plumber_host_mark_body_errors <- function(pr) {
  private <- pr$.__enclos_env__$private
  private$default_parsers <- plumber_host_wrap_parsers(private$default_parsers)
  for (e in unlist(pr$endpoints, use.names = FALSE)) {
    if (!is.null(e$parsers)) e$parsers <- plumber_host_wrap_parsers(e$parsers)
  }
  handler <- private$errorHandler
  pr$setErrorHandler(function(req, res, err) {
    if (inherits(err, "plumber_host_bad_body")) {
      req$.internal$bridge_bad_body <- conditionMessage(err)
      return(NULL)
    }
    handler(req, res, err)
  })
}

plumber_host_wrap_parsers <- function(parsers) {
  wrap <- function(parse) {
    force(parse)
    function(value, content_type = NULL, ...) {
      tryCatch(parse(value, content_type = content_type, ...), error = function(e) {
        stop(structure(class = c("plumber_host_bad_body", "error", "condition"), list(
          message = sprintf("the request body could not be parsed as %s: %s",
                            if (length(content_type)) content_type else "JSON or form data",
                            gsub("\\s+", " ", trimws(conditionMessage(e)))),
          call = NULL)))
      })
    }
  }
  for (group in intersect(c("alias", "fixed", "regex"), names(parsers))) {
    parsers[[group]] <- lapply(parsers[[group]], wrap)
  }
  parsers
}

# ---- one request -----------------------------------------------------------------

# The Rook environment httpuv builds for a request. headers: named character
# vector, lower-case names as they came; query: the raw query string without
# "?"; body: raw.
plumber_host_request <- function(method, path, query, headers, body, server) {
  req <- new.env(parent = emptyenv())
  req$REQUEST_METHOD <- method
  req$SCRIPT_NAME <- ""
  req$PATH_INFO <- path
  # httpuv keeps the "?" in QUERY_STRING; plumber's parseQS expects it.
  req$QUERY_STRING <- if (nzchar(query)) paste0("?", query) else ""
  req$SERVER_NAME <- server[["name"]]
  req$SERVER_PORT <- server[["port"]]
  req$REMOTE_ADDR <- server[["remote_addr"]]
  req$REMOTE_PORT <- server[["remote_port"]]
  req$HEADERS <- headers
  for (name in names(headers)) {
    key <- paste0("HTTP_", toupper(gsub("-", "_", name, fixed = TRUE)))
    assign(key, headers[[name]], envir = req)
  }
  if (!is.null(req$HTTP_CONTENT_TYPE)) req$CONTENT_TYPE <- req$HTTP_CONTENT_TYPE
  if (!is.null(req$HTTP_CONTENT_LENGTH)) req$CONTENT_LENGTH <- req$HTTP_CONTENT_LENGTH
  req$rook.version <- "1.1-0"
  req$rook.url_scheme <- server[["scheme"]]
  req$rook.errors <- httpuv:::ErrorStream$new()
  req$httpuv.version <- utils::packageVersion("httpuv")
  req$rook.input <- if (length(body)) {
    httpuv:::InputStream$new(rawConnection(body), length(body))
  } else {
    httpuv:::NullInputStream$new()
  }
  req
}

# Runs one request through the API whose routes claim the path (the first
# when none does, so its filters and 404 answer) and returns plain values:
# list(status = integer, headers = character (names may repeat), body = raw).
plumber_host_call <- function(apis, method, path, query, headers, body, server) {
  api <- apis[[1]]
  for (candidate in apis) {
    if (length(plumber_host_allowed(candidate, path))) {
      api <- candidate
      break
    }
  }
  req <- plumber_host_request(method, path, query, headers, body, server)
  on.exit(if (inherits(req$rook.input, "InputStream")) {
    close(req$rook.input$.__enclos_env__$private$conn)
  })
  # pr_run() runs the router from the file's folder, so relative paths in
  # endpoints (readRDS("model.rds")) resolve as they do under Plumber.
  old_wd <- setwd(api$dir)
  on.exit(setwd(old_wd), add = TRUE)
  res <- api$router$call(req)
  if (promises::is.promising(res)) {
    # An asynchronous endpoint the load-time scan could not see (say, in a
    # sourced helper): it would never complete here, so fail it plainly.
    return(list(refused = sprintf(
      "%s %s returned a promise: asynchronous endpoints are not served by the bridge",
      method, path)))
  }
  out <- plumber_host_response(res)
  out$bad_body <- req$.internal$bridge_bad_body
  out
}

plumber_host_response <- function(res) {
  headers <- unlist(lapply(res$headers, as.character))
  if (is.null(headers)) headers <- character(0)
  names(headers) <- rep(names(res$headers), lengths(lapply(res$headers, as.character)))
  body <- res$body
  if (is.list(body) && !is.null(body$file)) {
    file <- body$file
    body <- readBin(file, "raw", file.info(file)$size)
    if (isTRUE(res$body$owned)) unlink(file)
  } else if (is.character(body)) {
    body <- charToRaw(enc2utf8(paste(body, collapse = "")))
  } else if (is.null(body)) {
    body <- raw(0)
  }
  list(status = as.integer(res$status), headers = headers, body = body)
}
