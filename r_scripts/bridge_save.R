# bridge_save(): save a model for R Bridge with what it needs recorded.
#
#   source("r_scripts/bridge_save.R")     # once per session
#   fit <- randomForest::randomForest(Species ~ ., data = iris)
#   bridge_save(fit, "r_models/iris_rf.rds", ptype = iris[, 1:4],
#               description = "Iris species from flower measurements")
#
# Writes the model (an .rds; an .rda/.RData when the path says so) with a
# zero-row prototype of its inputs as attr(model, "ptype"), and a sidecar
# <stem>.json beside it with the description, the R version and the version
# of every package the model needs, read from this session. The server
# compares those with what it has installed when it loads the model
# (--package-check, docs/models.md). An existing sidecar keeps its other
# fields (args, allow_args, version, ...).
#
# What the model needs is found as the server finds it (the bridge's own R
# side, r_scripts/bridge/, sourced from beside this file), plus the packages
# of this session that registered a predict() method the model dispatches to.

.bridge_save_home <- local({
  here <- tryCatch(dirname(normalizePath(sys.frame(1)$ofile)), error = function(e) NULL)
  if (is.null(here)) here <- Sys.getenv("BRIDGE_R_SCRIPTS", "r_scripts")
  file.path(here, "bridge")
})

bridge_save <- function(model, path, ptype = NULL, description = NULL, version = NULL) {
  stopifnot(is.character(path), length(path) == 1)
  if (!is.null(ptype)) {
    if (!is.data.frame(ptype)) stop("ptype must be a data frame of the model's input columns")
    attr(model, "ptype") <- ptype[0, , drop = FALSE]
  }
  helpers <- new.env()
  files <- sort(Sys.glob(file.path(.bridge_save_home, "*.R")))
  if (!length(files)) stop("bridge_save(): the bridge's R side is not at ", .bridge_save_home,
                           "; set BRIDGE_R_SCRIPTS to the r_scripts folder")
  for (f in files) sys.source(f, envir = helpers)
  needs <- helpers$bridge_requirements(model)
  ok <- !is.na(needs$installed)
  versions <- stats::setNames(needs$installed[ok], needs$package[ok])
  if (grepl("\\.(rda|rdata)$", path, ignore.case = TRUE)) {
    name <- sub("\\.[^.]*$", "", basename(path))
    env <- new.env()
    assign(name, model, envir = env)
    save(list = name, envir = env, file = path)
  } else {
    saveRDS(model, path)
  }
  sidecar <- sub("\\.[^.]*$", ".json", path)
  meta <- if (file.exists(sidecar)) jsonlite::fromJSON(sidecar, simplifyVector = FALSE) else list()
  if (!is.null(description)) meta$description <- description
  if (!is.null(version)) meta$version <- version
  meta$packages <- if (length(versions)) as.list(versions) else structure(list(), names = character(0))
  meta$r_version <- paste(R.version$major, R.version$minor, sep = ".")
  meta$saved_with <- "bridge_save"
  writeLines(jsonlite::toJSON(meta, auto_unbox = TRUE, pretty = TRUE), sidecar, useBytes = TRUE)
  invisible(list(model = path, sidecar = sidecar, packages = versions))
}
