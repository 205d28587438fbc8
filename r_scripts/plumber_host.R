# Serving plumber.R files inside the bridge.
#
# The bridge does not re-implement Plumber: it builds each API's router as
# pr(file) or plumb(dir = folder) would, and hands every request to that
# router's own $call() with the Rook request httpuv would have built. How
# arguments reach functions, req/res, serializers, filters, static files,
# mounts, errors and 404/405 all come from Plumber itself. This file adds
# what the run script, pr_run() and httpuv do around the router (attaching
# plumber, working directory, debug flag, Rook environment, running a
# promise's event loop, the response as bytes) and refuses, at load, what
# cannot carry over (docs/plumber.md).
#
# bridge/plumber.py sources this file once into its own environment.

# ---- what a file declares ----------------------------------------------------

# Reasons the file cannot be served, read from its text before anything in it
# runs. Each names the line and says what to do instead.
plumber_host_refusals <- function(file) {
  # plumber only says "Error sourcing <file>": say where R's parser stopped.
  parsed <- tryCatch(parse(file, keep.source = TRUE, encoding = "UTF-8"), error = function(e)
    stop(sprintf("R cannot parse %s: %s", basename(file), conditionMessage(e)), call. = FALSE))
  tokens <- utils::getParseData(parsed)
  code <- tokens[tokens$terminal & tokens$token != "COMMENT", c("line1", "token", "text")]
  out <- character(0)
  for (k in which(code$text == "onWSOpen")) {
    out <- c(out, sprintf(paste(
      "%s:%d: websockets (onWSOpen) are not served by the bridge: it answers HTTP",
      "requests only; keep the websocket on Plumber"), basename(file), code$line1[k]))
  }
  unique(out)
}

# ---- where a file runs -------------------------------------------------------

# The environment a file (or an entrypoint.R) is evaluated in.
#
# Bare: what plumber::pr() gives it, a child of the global environment, with
# nothing attached. Attached (the default): what the common run script
# `library(plumber); pr("plumber.R") %>% pr_run()` gives it, without touching
# the search path every file and every model shares. Each API gets a private
# stand-in for the global environment, `home`, whose parents are plumber's
# exports and, above them, whatever the file attaches with library(); so
# `%>%`, as_attachment() and pr_*() resolve as under that script, and one
# file's library(dplyr) or source()d helpers are invisible to the others.
#   file env -> home -> [the file's packages, latest first] -> plumber -> shims -> global
plumber_host_scope <- function(bare) {
  if (bare) return(new.env(parent = globalenv()))
  shims <- new.env(parent = globalenv())
  plumber_env <- plumber_host_package_env("plumber", shims)
  home <- new.env(parent = plumber_env)
  attached <- "plumber"
  attach_here <- function(pkg) {
    if (pkg %in% attached) return(invisible(TRUE))
    ns <- loadNamespace(pkg)  # the package's own errors, as library() gives them
    for (dep in plumber_host_depends(pkg)) attach_here(dep)
    parent.env(home) <- plumber_host_package_env(pkg, parent.env(home))
    attached <<- c(pkg, attached)
    # The package's .onAttach, as attachNamespace() runs it (startup
    # messages, options); its failure is the file's, as under library().
    hook <- ns[[".onAttach"]]
    if (is.function(hook)) hook(dirname(getNamespaceInfo(ns, "path")), pkg)
    invisible(TRUE)
  }
  # library() and require() as base R reads their first argument; they attach
  # to this API's chain instead of the search path.
  shims$library <- function(package, help, pos = 2, lib.loc = NULL, character.only = FALSE,
                            logical.return = FALSE, warn.conflicts, quietly = FALSE,
                            verbose = getOption("verbose"), ...) {
    if (missing(package)) {  # library(), library(help = pkg): nothing to attach
      call <- sys.call()
      call[[1]] <- quote(base::library)
      return(eval(call, parent.frame()))
    }
    if (!character.only) package <- as.character(substitute(package))
    attach_here(package)
    if (logical.return) invisible(TRUE) else invisible(c(attached, .packages()))
  }
  shims$require <- function(package, lib.loc = NULL, quietly = FALSE, warn.conflicts,
                            character.only = FALSE) {
    if (!character.only) package <- as.character(substitute(package))
    ok <- tryCatch(attach_here(package), error = function(e) {
      warning(conditionMessage(e), call. = FALSE)
      FALSE
    })
    invisible(ok)
  }
  # source("helpers.R") defines the helpers in the global environment; here,
  # in this API's stand-in for it.
  shims$source <- function(file, local = FALSE, ...) {
    base::source(file, local = if (isFALSE(local)) home else local, ...)
  }
  # A router built inside the API (an entrypoint.R's pr("api.R"), a plumb())
  # gets the same stand-in, where plain plumber would use the global env.
  plumber_env$pr <- function(file = NULL, filters = plumber:::defaultPlumberFilters,
                             envir = new.env(parent = home)) {
    plumber::pr(file = file, filters = filters, envir = envir)
  }
  plumber_env$plumb <- function(file = NULL, dir = ".") {
    if (is.null(file)) return(plumber_host_build(dir, home))
    if (!identical(dir, ".")) file <- file.path(dir, file)
    if (!file.exists(file)) stop("File does not exist: ", file)
    plumber::Plumber$new(file, envir = new.env(parent = home))
  }
  lockEnvironment(plumber_env, bindings = TRUE)
  home
}

# A package's exports and lazy data, as library() would attach them, as an
# environment with the given parent.
plumber_host_package_env <- function(pkg, parent) {
  ns <- loadNamespace(pkg)
  env <- new.env(parent = parent)
  attr(env, "name") <- paste0("package:", pkg)
  exports <- getNamespaceExports(ns)
  importIntoEnv(env, exports, ns, exports)
  # Data sets stay unread until used, as on the search path.
  lazydata <- .getNamespaceInfo(ns, "lazydata")
  for (name in names(lazydata)) plumber_host_delay(name, lazydata, env)
  env
}

plumber_host_delay <- function(name, from, to) {
  delayedAssign(name, get(name, envir = from, inherits = FALSE), assign.env = to)
}

# The packages a package's Depends: field attaches with it.
plumber_host_depends <- function(pkg) {
  field <- utils::packageDescription(pkg, fields = "Depends")
  if (is.na(field)) return(character(0))
  deps <- trimws(sub("\\(.*", "", strsplit(field, ",")[[1]]))
  # Those R attaches at start-up are on the search path already.
  setdiff(deps[nzchar(deps)], c("R", "base", getOption("defaultPackages")))
}

# The router an API is: a file, as pr(file) builds it, or a folder, as
# plumb(dir = folder) does (its entrypoint.R returns the router, else its
# plumber.R is the file). `home` is the environment plumber_host_scope() gave.
plumber_host_build <- function(path, home) {
  path <- normalizePath(path, mustWork = TRUE)
  if (!dir.exists(path)) {
    return(plumber::pr(path, envir = new.env(parent = home)))
  }
  entry <- list.files(path, "^entrypoint\\.r$", ignore.case = TRUE, full.names = TRUE)
  if (length(entry)) {
    old_wd <- setwd(path)
    on.exit(setwd(old_wd), add = TRUE)
    exprs <- parse(entry[1], keep.source = FALSE, encoding = "UTF-8")
    router <- eval(exprs, new.env(parent = home))
    if (!inherits(router, "Plumber")) {
      stop(basename(entry[1]), " must return a runnable Plumber router (its last value is a ",
           class(router)[1], ")", call. = FALSE)
    }
    return(router)
  }
  file <- list.files(path, "^plumber\\.r$", ignore.case = TRUE, full.names = TRUE)
  if (!length(file)) stop("No entrypoint.R or plumber.R file found in ", path, call. = FALSE)
  plumber::pr(file[1], envir = new.env(parent = home))
}

# The R files of an API, checked before any of them runs: the file itself, or
# every R file of its folder.
plumber_host_sources <- function(path) {
  if (!dir.exists(path)) return(path)
  list.files(path, "\\.[rR]$", full.names = TRUE)
}

# ---- loading -----------------------------------------------------------------

plumber_host_refuse <- function(reasons) {
  stop(structure(class = c("plumber_refused", "error", "condition"),
                 list(message = paste(reasons, collapse = "\n"), call = NULL)))
}

# The router for one API (a file or a folder), ready to take requests:
# list(router, file, dir, routes = data.frame(verb, path), assets = prefixes,
# prefixes = first path segments it answers under). Errors of class
# plumber_refused say why it cannot be served; other errors are the file's own
# (as plumb() reports).
plumber_host_load <- function(path, bare = FALSE) {
  path <- normalizePath(path, mustWork = TRUE)
  reasons <- unlist(lapply(plumber_host_sources(path), plumber_host_refusals))
  if (length(reasons)) plumber_host_refuse(reasons)
  pr <- plumber_host_build(path, plumber_host_scope(bare))
  private <- pr$.__enclos_env__$private
  if (length(private$hooks$exit)) {
    plumber_host_refuse(sprintf(
      "%s: an \"exit\" hook would never run (the bridge does not stop routers); remove it",
      basename(path)))
  }
  # pr_run() takes debug from the router, else interactive(), which is FALSE
  # under Rscript but TRUE in an embedded R: pin what Rscript would do, so
  # error messages do not leak to callers unless the file asks for them.
  if (is.null(private$debug)) pr$setDebug(FALSE)
  plumber_host_mark_body_errors(pr)
  routes <- plumber_host_routes(pr)
  list(router = pr, file = path, dir = if (dir.exists(path)) path else dirname(path),
       routes = routes$endpoints, assets = routes$assets,
       prefixes = unique(c(plumber_host_segment(routes$endpoints$path),
                           plumber_host_segment(routes$assets))))
}

# Every endpoint of a router and of the routers mounted in it, with the mount
# paths prefixed; and the path prefixes of its static (@assets) mounts.
plumber_host_routes <- function(pr, prefix = "") {
  endpoints <- do.call(rbind, c(
    list(data.frame(verb = character(0), path = character(0))),
    lapply(unlist(pr$endpoints, use.names = FALSE), function(e)
      data.frame(verb = e$verbs, path = paste0(prefix, e$path)))))
  assets <- character(0)
  for (i in seq_along(pr$mounts)) {
    at <- paste0(prefix, sub("/$", "", names(pr$mounts)[i]))
    if (inherits(pr$mounts[[i]], "PlumberStatic")) {
      assets <- c(assets, paste0(at, "/"))
    } else {
      inner <- plumber_host_routes(pr$mounts[[i]], at)
      endpoints <- rbind(endpoints, inner$endpoints)
      assets <- c(assets, inner$assets)
    }
  }
  list(endpoints = endpoints, assets = assets)
}

# The first segment of each path ("cars" for /cars/mpg, "" for /); NA where
# it is a path parameter (/<page>), which claims every path.
plumber_host_segment <- function(paths) {
  first <- sub("/.*", "", sub("^/", "", paths))
  first[grepl("<", first, fixed = TRUE)] <- NA
  first
}

# plumber_host_load() for a caller that wants the failure as a value:
# list(api) or list(error = message, refused = TRUE when a feature is refused).
plumber_host_try_load <- function(path, bare = FALSE) {
  tryCatch(list(api = plumber_host_load(path, bare)), error = function(e) {
    message <- conditionMessage(e)
    # Bare, a file written for library(plumber) misses plumber's functions:
    # say which loading style it wants rather than leave a bare "%>%".
    missing <- regmatches(message, regexec("could not find function \"([^\"]+)\"|object '([^']+)' not found", message))[[1]]
    if (bare && length(missing) && any(missing[-1] %in% getNamespaceExports("plumber"))) {
      message <- paste0(message, " (the file expects library(plumber): serve it without ",
                        "--plumber-bare / BRIDGE_PLUMBER_BARE)")
    }
    list(error = message, refused = inherits(e, "plumber_refused"))
  })
}

# Verbs a loaded API serves on a concrete path (character(0): none).
plumber_host_allowed <- function(api, path) {
  as.character(plumber:::allowed_verbs(api$router, path))
}

# Which API answers a path: the first with an endpoint for it (any verb), else
# the first with a static mount over it, else the first with a route under its
# first segment (its filters and its 404 answer there, as in Plumber). 0: no
# API claims the path; the bridge answers its own 404.
plumber_host_pick <- function(apis, path) {
  for (i in seq_along(apis)) {
    if (length(plumber_host_allowed(apis[[i]], path))) return(i)
  }
  for (i in seq_along(apis)) {
    assets <- apis[[i]]$assets
    if (any(startsWith(path, assets) | paste0(path, "/") == assets)) return(i)
  }
  segment <- plumber_host_segment(path)
  for (i in seq_along(apis)) {
    prefixes <- apis[[i]]$prefixes
    if (anyNA(prefixes) || segment %in% prefixes) return(i)
  }
  0L
}

# A body the parser cannot read is the caller's mistake: Plumber answers 500,
# the bridge 400 (a deliberate difference, docs/plumber.md). Every parser of the
# router is wrapped to raise a classed condition, and the error handler,
# Plumber's or the file's own, is wrapped to recognise it and leave the answer
# to the bridge.
plumber_host_mark_body_errors <- function(pr) {
  if (inherits(pr, "PlumberStatic")) return(invisible(pr))
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
  # A mounted router parses its own bodies and handles its own errors.
  for (mounted in pr$mounts) plumber_host_mark_body_errors(mounted)
  invisible(pr)
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

# Runs one request through the API that claims its path (plumber_host_pick)
# and returns plain values: list(status = integer, headers = character (names
# may repeat), body = raw); list(unclaimed = TRUE) when no API claims it,
# list(timed_out = TRUE) when a promise is still pending after `timeout` s.
plumber_host_call <- function(apis, method, path, query, headers, body, server, timeout) {
  deadline <- Sys.time() + timeout
  pick <- plumber_host_pick(apis, path)
  if (pick == 0L) return(list(unclaimed = TRUE))
  api <- apis[[pick]]
  req <- plumber_host_request(method, path, query, headers, body, server)
  on.exit(if (inherits(req$rook.input, "InputStream")) {
    close(req$rook.input$.__enclos_env__$private$conn)
  })
  # The file's folder, as the usual `cd api && Rscript -e 'pr_run(...)'`
  # leaves it: relative paths in endpoints (readRDS("model.rds"), an
  # @assets ./www folder) resolve as they do under Plumber.
  old_wd <- setwd(api$dir)
  on.exit(setwd(old_wd), add = TRUE)
  # A loop of this request's own: callbacks an abandoned request left behind
  # (past its timeout) are dropped with it, never run in the next one.
  res <- later::with_temp_loop({
    out <- api$router$call(req)
    if (promises::is.promising(out)) out <- plumber_host_await(out, deadline)
    out
  })
  if (is.null(res)) return(list(timed_out = TRUE))
  out <- plumber_host_response(res)
  out$bad_body <- req$.internal$bridge_bad_body
  out
}

# The value of a promise, driving later's event loop until it settles: what
# httpuv would do between requests, done here for this request alone, until
# the deadline (NULL past it). R code inside a callback is held to the
# timeout by the bridge's interrupt, as any endpoint is.
plumber_host_await <- function(promise, deadline) {
  state <- new.env()
  state$done <- FALSE
  promises::then(promise,
    onFulfilled = function(value) {
      state$value <- value
      state$done <- TRUE
    },
    onRejected = function(error) {
      state$error <- error
      state$done <- TRUE
    })
  while (!state$done) {
    if (Sys.time() > deadline) return(NULL)
    later::run_now(0.05)
  }
  # Plumber turns an endpoint's failure into its error response inside the
  # promise chain; a rejection here is Plumber's own failure.
  if (!is.null(state$error)) stop(state$error)
  state$value
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
  } else if (is.character(body) && !length(body)) {
    # httpuv cannot send character(0) (a text serializer given nothing) and
    # answers with its own error instead.
    return(list(status = 500L, headers = c("Content-Type" = "text/plain; charset=UTF-8"),
                body = charToRaw("An exception occurred.")))
  } else if (is.character(body)) {
    # httpuv sends a character body's first element: a two-line
    # @serializer text answer is its first line.
    body <- charToRaw(enc2utf8(body[[1]]))
  } else if (is.null(body)) {
    body <- raw(0)
  }
  list(status = as.integer(res$status), headers = headers, body = body)
}
