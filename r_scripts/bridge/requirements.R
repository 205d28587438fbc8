# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- what a model needs from R ----------------------------------------------
#
# Found from the object itself, never by evaluating anything in it: the
# packages of its class and of the predict() method it dispatches to
# (packages.R), the namespaces its formulas call (splines::ns, or ns found
# among the exports), the namespaces environments and closures inside it
# refer to (a bounded walk that reads bindings without forcing promises or
# calling active bindings), and what a vetiver_model recorded (files.R
# unwraps it and keeps its metadata as attr "vetiver_metadata"). Every value
# goes back to Python as data; the Python side compares it with what the
# model was saved with (bridge/requirements.py).

# Packages every R has (priority "base"): provided by r-base-core.
bridge_base_packages <- function() {
  ip <- utils::installed.packages(priority = "base", noCache = FALSE)
  unique(c(rownames(ip), "base", "stats", "methods", "utils", "graphics", "grDevices",
           "datasets", "splines", "grid", "tools", "parallel", "compiler", "stats4", "tcltk"))
}

# R's package-name grammar (Writing R Extensions 1.1.1).
.valid_package <- function(x) {
  is.character(x) & !is.na(x) & grepl("^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$", x) & nchar(x) <= 100
}

.installed_version <- function(pkg) {
  path <- system.file(package = pkg)
  if (!nzchar(path)) return(NA_character_)
  v <- tryCatch(utils::packageDescription(pkg, fields = "Version"), error = function(e) NA)
  if (is.null(v) || !is.character(v)) NA_character_ else v
}

# ---- the file's header -------------------------------------------------------

# What the serialization header of an .rds (or an .rda's, after its magic)
# says: format ("xdr", "binary", "ascii"), version, the R that wrote it and
# the oldest R that can read it. Read from the first bytes only (compressed
# files are decompressed by file()), so a file R cannot read is still
# described. NULL fields when the bytes are not a serialization header.
bridge_file_header <- function(path) {
  con <- gzfile(path, "rb")  # also reads bzip2, xz and uncompressed files
  on.exit(close(con))
  bytes <- readBin(con, "raw", 128L)
  out <- list(kind = NA_character_, format = NA_character_, version = NA_integer_,
              writer = NA_character_, min_reader = NA_character_)
  magic <- if (length(bytes) >= 5) bytes[1:5] else raw(0)
  if (length(magic) == 5 && identical(magic[1:2], charToRaw("RD")) &&
      magic[3] %in% charToRaw("ABX") && magic[4] %in% charToRaw("23") && magic[5] == charToRaw("\n")) {
    out$kind <- "rda"
    bytes <- bytes[-(1:5)]
  } else {
    out$kind <- "rds"
  }
  if (length(bytes) < 2) return(out)
  fmt <- rawToChar(bytes[1])
  if (!identical(bytes[2], charToRaw("\n"))) return(out)
  ints <- NULL
  if (fmt == "X" || fmt == "B") {
    if (length(bytes) < 14) return(out)
    ints <- readBin(bytes[3:14], "integer", n = 3L, size = 4L,
                    endian = if (fmt == "X") "big" else "little")
    out$format <- if (fmt == "X") "xdr" else "binary"
  } else if (fmt == "A") {
    lines <- strsplit(rawToChar(bytes[-(1:2)][bytes[-(1:2)] != as.raw(0)]), "\n", fixed = TRUE)[[1]]
    ints <- suppressWarnings(as.integer(lines[1:3]))
    out$format <- "ascii"
  } else {
    return(out)
  }
  if (length(ints) < 3 || anyNA(ints)) return(out)
  out$version <- ints[1]
  out$writer <- .r_version_string(ints[2])
  out$min_reader <- .r_version_string(ints[3])
  out
}

.r_version_string <- function(v) {
  paste(v %/% 65536L, (v %/% 256L) %% 256L, v %% 256L, sep = ".")
}

# ---- reading a file, recording what it could not find ------------------------

# bridge_read_file(), with the namespaces R could not load while reading:
# R replaces a missing namespace by the global environment with a warning,
# which is where a missing package shows first.
bridge_read_file_noting <- function(path) {
  missing <- character(0)
  # R says so only when asked (for readRDS it does not know the object's name).
  old_env <- Sys.getenv("_R_NO_REPORT_MISSING_NAMESPACES_", unset = NA)
  old_quotes <- options(useFancyQuotes = FALSE)
  Sys.setenv("_R_NO_REPORT_MISSING_NAMESPACES_" = "false")
  on.exit({
    options(old_quotes)
    if (is.na(old_env)) Sys.unsetenv("_R_NO_REPORT_MISSING_NAMESPACES_")
    else Sys.setenv("_R_NO_REPORT_MISSING_NAMESPACES_" = old_env)
  })
  objects <- withCallingHandlers(
    bridge_read_file(path),
    warning = function(w) {
      m <- regmatches(conditionMessage(w),
                      regexec("namespace '([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9])' is not available",
                              conditionMessage(w)))[[1]]
      if (length(m) == 2) {
        missing <<- c(missing, m[2])
        invokeRestart("muffleWarning")
      }
    })
  attr(objects, "missing_namespaces") <- unique(missing)
  objects
}

# ---- the walk ----------------------------------------------------------------

# Namespaces referred to from inside an object: environments that are
# namespaces or attached packages, closures' environments, pkg::fn in code
# (formulas, function bodies, calls). Bounded by `limit` visited values;
# bindings are read with substitute(), which never forces a promise, and
# active bindings are never called.
bridge_referenced_namespaces <- function(x, limit = 20000L) {
  found <- character(0)
  seen_envs <- new.env(hash = TRUE, parent = emptyenv())  # by address: each walked once
  n_envs <- 0L
  stack <- list(x)
  visits <- 0L
  # Lists and calls can hold the empty symbol (x[, 1]): it is never bound.
  push_part <- function(parent, i) {
    if (identical(.subset2(parent, i), quote(expr = ))) return()
    el <- .subset2(parent, i)
    if (!is.atomic(el) || !is.null(attributes(el))) stack[[length(stack) + 1L]] <<- el
  }
  push <- function(v) stack[[length(stack) + 1L]] <<- v
  while (length(stack) && visits < limit) {
    v <- stack[[length(stack)]]
    stack[[length(stack)]] <- NULL
    visits <- visits + 1L
    if (is.null(v)) next
    if (isS4(v) && typeof(v) != "closure") {  # reference classes too (.xData)
      pkg <- attr(class(v), "package")
      if (!is.null(pkg)) found <- c(found, pkg)
      for (s in methods::slotNames(class(v))) {
        push(tryCatch(methods::slot(v, s), error = function(e) NULL))
      }
      next
    }
    if (typeof(v) == "environment") {
      if (identical(v, globalenv()) || identical(v, baseenv()) || identical(v, emptyenv())) next
      if (isNamespace(v)) {
        found <- c(found, getNamespaceName(v))
        next
      }
      name <- environmentName(v)
      if (startsWith(name, "package:")) {
        found <- c(found, sub("^package:", "", name))
        next
      }
      key <- format(v)[1]
      if (!is.null(seen_envs[[key]]) || n_envs >= 200L) next
      seen_envs[[key]] <- TRUE
      n_envs <- n_envs + 1L
      for (nm in ls(v, all.names = TRUE, sorted = FALSE)) {
        if (bindingIsActive(nm, v)) next
        push_part(list(do.call(substitute, list(as.name(nm), v))), 1L)
      }
      push(parent.env(v))
      next
    }
    if (is.function(v)) {
      if (is.primitive(v)) next
      push(environment(v))
      found <- c(found, .namespaced_calls(body(v)))
      next
    }
    if (is.language(v)) {
      found <- c(found, .namespaced_calls(v))
      if (!is.null(attributes(v))) push(attributes(v))
      next
    }
    a <- attributes(v)
    if (!is.null(a)) {
      a$names <- NULL
      a$dim <- NULL
      a$dimnames <- NULL
      a$row.names <- NULL
      if (length(a)) push(a)
    }
    if (is.list(v) || is.pairlist(v) || is.expression(v)) {
      # unclass: no S3 method of the object's class ([[, length) is called.
      v <- if (is.list(v)) unclass(v) else as.list(v)
      for (i in seq_len(length(v))) push_part(v, i)
    }
  }
  out <- unique(found)
  out[.valid_package(out)]
}

# pkg in pkg::fn and pkg:::fn anywhere in an expression.
.namespaced_calls <- function(expr, depth = 0L) {
  if (depth > 200L) return(character(0))
  if (is.call(expr)) {
    head <- expr[[1]]
    if ((identical(head, as.name("::")) || identical(head, as.name(":::"))) && length(expr) == 3) {
      pkg <- expr[[2]]
      return(if (is.name(pkg) || is.character(pkg)) as.character(pkg) else character(0))
    }
    out <- character(0)
    for (i in seq_along(expr)) {
      if (!identical(expr[[i]], quote(expr = ))) out <- c(out, .namespaced_calls(expr[[i]], depth + 1L))
    }
    return(out)
  }
  character(0)
}

# ---- what a model needs --------------------------------------------------------

# One row per package: package, why (the first reason found), installed
# version (NA when missing); and the facts of the session (R version). Also
# what vetiver recorded: its required_pkgs and, from an renv lockfile, their
# versions.
bridge_requirements <- function(model, missing_namespaces = character(0), script = character(0)) {
  pkgs <- character(0)
  why <- character(0)
  add <- function(p, reason) {
    p <- p[.valid_package(p)]
    new <- setdiff(unique(p), pkgs)
    pkgs <<- c(pkgs, new)
    why <<- c(why, rep(reason, length(new)))
  }
  add(missing_namespaces, "referenced by the object (not installed)")
  if (isS4(model)) add(attr(class(model), "package"), "class")
  source <- tryCatch(bridge_predict_source(model), error = function(e) NULL)
  if (!is.null(source) && !is.na(source$package)) add(source$package, "predict method")
  index <- bridge_package_index()
  classes <- tryCatch(bridge_dispatch_classes(model), error = function(e) character(0))
  add(unname(index$s3[classes][!is.na(index$s3[classes])]), "class")
  if (inherits(model, "train") && is.list(model$modelInfo)) {
    add(as.character(model$modelInfo$library), "caret model library")
  }
  formula_fns <- tryCatch(
    unique(unlist(lapply(.model_formulas(model),
                         function(f) c(.namespaced_calls(f), .formula_function_packages(f))))),
    error = function(e) character(0))
  add(formula_fns, "formula")
  add(tryCatch(bridge_referenced_namespaces(model), error = function(e) character(0)),
      "referenced by the object")
  if (length(script) == 1 && !is.na(script)) add(bridge_script_packages(script), "predict_fn script")
  meta <- attr(model, "vetiver_metadata", exact = TRUE)
  vetiver <- tryCatch(.vetiver_record(meta),
                      error = function(e) list(packages = character(0), r_version = NA_character_))
  add(names(vetiver$packages), "vetiver required_pkgs")
  pkgs <- setdiff(pkgs, c("base", ".GlobalEnv", "R_GlobalEnv"))
  why <- why[match(pkgs, pkgs)]
  installed <- vapply(pkgs, .installed_version, "", USE.NAMES = FALSE)
  base <- bridge_base_packages()
  list(
    package = pkgs,
    why = why,
    installed = installed,
    base = pkgs %in% base,
    r_version = paste(R.version$major, R.version$minor, sep = "."),
    vetiver_packages = names(vetiver$packages),
    vetiver_versions = unname(as.character(vetiver$packages)),
    vetiver_r_version = vetiver$r_version
  )
}

# Packages a predict_fn sidecar (<name>.R) uses, read from its parsed code
# without running it: pkg::fn, and library(), require(), requireNamespace(),
# loadNamespace() of a literal name.
bridge_script_packages <- function(path) {
  # A script that does not parse names nothing here; loading it says why.
  exprs <- tryCatch(parse(path, keep.source = FALSE), error = function(e) expression())
  out <- character(0)
  visit <- function(e, depth = 0L) {
    if (depth > 200L || !is.call(e)) return()
    head <- e[[1]]
    if (is.name(head) && as.character(head) %in% c("library", "require", "requireNamespace",
                                                    "loadNamespace") && length(e) >= 2) {
      arg <- e[[2]]
      if (is.name(arg) || is.character(arg)) out <<- c(out, as.character(arg)[1])
    }
    out <<- c(out, .namespaced_calls(e))
    for (i in seq_along(e)) if (!identical(e[[i]], quote(expr = ))) visit(e[[i]], depth + 1L)
  }
  for (e in exprs) visit(e)
  unique(out)
}

# Packages exporting the functions a formula calls without pkg:: (ns ->
# splines, poly -> stats), found among the installed packages' exports.
.formula_function_packages <- function(f) {
  fns <- unique(.called_functions(f))
  fns <- fns[!vapply(fns, exists, TRUE, envir = baseenv(), inherits = FALSE)]
  index <- bridge_package_index()
  out <- character(0)
  for (fn in fns) {
    for (pkg in index$order) {
      ex <- index$exports[[pkg]]
      # An export pattern matches names a package need not have: only a
      # loaded namespace that has the function counts.
      if (fn %in% ex$names || (length(ex$patterns) && isNamespaceLoaded(pkg) &&
                               exists(fn, envir = asNamespace(pkg), inherits = FALSE) &&
                               any(vapply(ex$patterns, grepl, TRUE, x = fn)))) {
        out <- c(out, pkg)
        break
      }
    }
  }
  out
}

# What a vetiver_model's metadata recorded: package -> version (NA when only
# the name is known), and the R version of an renv lockfile.
.vetiver_record <- function(meta) {
  none <- list(packages = character(0), r_version = NA_character_)
  if (!is.list(meta)) return(none)
  req <- meta$required_pkgs
  req <- if (is.character(req)) req[.valid_package(req)] else character(0)
  versions <- stats::setNames(rep(NA_character_, length(req)), req)
  r_version <- NA_character_
  lock <- meta$renv_lock
  if (is.list(lock)) {
    if (is.list(lock$R) && is.character(lock$R$Version)) r_version <- lock$R$Version[1]
    if (is.list(lock$Packages)) {
      for (p in lock$Packages) {
        if (is.list(p) && is.character(p$Package) && is.character(p$Version) &&
            .valid_package(p$Package[1]) && (p$Package[1] %in% req || !length(req))) {
          versions[p$Package[1]] <- p$Version[1]
        }
      }
    }
  }
  list(packages = versions, r_version = r_version)
}

# Installed versions of packages named by a record (the names were checked
# against the package-name grammar on the Python side and are checked again
# here; they are only ever looked up, never loaded or attached).
bridge_installed_versions <- function(pkgs) {
  pkgs <- as.character(pkgs)
  ok <- .valid_package(pkgs)
  out <- rep(NA_character_, length(pkgs))
  out[ok] <- vapply(pkgs[ok], .installed_version, "", USE.NAMES = FALSE)
  out
}

# This R's version as "4.2.2".
bridge_r_version <- function() paste(R.version$major, R.version$minor, sep = ".")

# Packages an object that is not (yet) a model names and that are not
# installed: an S4 class's package, namespaces referred to inside it. Why a
# file holds no servable model, when that is the reason.
bridge_wanting <- function(x) {
  pkgs <- tryCatch(bridge_referenced_namespaces(x, limit = 5000L), error = function(e) character(0))
  pkgs <- setdiff(pkgs, c("base", ".GlobalEnv"))
  pkgs[is.na(vapply(pkgs, .installed_version, "", USE.NAMES = FALSE))]
}
