# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- model files ---------------------------------------------------------

# Objects in a model file, as a named list. An .rds holds one object, named
# after the file stem by the caller; an .rda may hold several.
bridge_read_file <- function(path) {
  if (grepl("\\.rds$", path, ignore.case = TRUE)) {
    return(list(bridge_unwrap_vetiver(readRDS(path))))
  }
  env <- new.env(parent = emptyenv())
  nms <- load(path, envir = env)
  lapply(mget(sort(nms), envir = env), bridge_unwrap_vetiver)
}

# vetiver, served as it is: a `vetiver_model` (vetiver-r R/vetiver-model.R:
# $model, $prototype or, before vetiver 0.2, $ptype; $metadata$required_pkgs)
# or what vetiver_pin_write() pins (a plain list with $model and
# $prototype/$ptype, and $required_pkgs) is served as its $model, typed by its
# prototype (the "ptype" attribute inputs.R reads). Only these fields are
# read; nothing in them is evaluated. A bundled model (bundle::bundle) is not
# unbundled: the bundle package is not installed.
bridge_unwrap_vetiver <- function(x) {
  pinned <- is.list(x) && !is.object(x) && !is.null(names(x)) && "model" %in% names(x) &&
    any(c("prototype", "ptype") %in% names(x)) && is.object(x$model)
  if (!inherits(x, "vetiver_model") && !pinned) return(x)
  model <- x$model
  if (inherits(model, "bundle")) {
    stop("a bundled vetiver model (bundle::bundle) cannot be read: the bundle package is not installed")
  }
  ptype <- if (!is.null(x$prototype)) x$prototype else x$ptype
  if (is.data.frame(ptype) && is.null(attr(model, "ptype", exact = TRUE))) {
    attr(model, "ptype") <- ptype[0, , drop = FALSE]
  }
  # What vetiver recorded (required_pkgs, renv_lock): requirements.R reads it.
  meta <- if (is.list(x$metadata)) unclass(x$metadata) else list(required_pkgs = x$required_pkgs)
  attr(model, "vetiver_metadata") <- meta
  model
}

# A model is an object of a class that predict() dispatches on, S3 or S4
# (inherited methods included). Data never is: a data frame, a plain list or
# a vector keeps no class of its own to dispatch on, whatever methods some
# package registers for "list" or "data.frame" (see packages.R).
bridge_is_model <- function(x) {
  if (!is.object(x) || inherits(x, "data.frame")) return(FALSE)
  !is.null(bridge_predict_source(x))
}
