# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- model files ---------------------------------------------------------

# Objects in a model file, as a named list. An .rds holds one object, named
# after the file stem by the caller; an .rda may hold several.
bridge_read_file <- function(path) {
  if (grepl("\\.rds$", path, ignore.case = TRUE)) {
    return(list(readRDS(path)))
  }
  env <- new.env(parent = emptyenv())
  nms <- load(path, envir = env)
  mget(sort(nms), envir = env)
}

# A model is an object of a class that predict() dispatches on, S3 or S4
# (inherited methods included). Data never is: a data frame, a plain list or
# a vector keeps no class of its own to dispatch on, whatever methods some
# package registers for "list" or "data.frame" (see packages.R).
bridge_is_model <- function(x) {
  if (!is.object(x) || inherits(x, "data.frame")) return(FALSE)
  !is.null(bridge_predict_source(x))
}
