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
