# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- which package provides predict() ----------------------------------------

# class -> package, built once from the NAMESPACE files of every installed
# package, so a model's package is found without the user naming it.
.bridge_predict_index <- NULL

bridge_predict_index <- function() {
  if (!is.null(.bridge_predict_index)) return(.bridge_predict_index)
  index <- character(0)
  libs <- .libPaths()
  for (pkg in rownames(utils::installed.packages(lib.loc = libs, noCache = TRUE))) {
    ns <- tryCatch(parseNamespaceFile(pkg, dirname(system.file(package = pkg))),
                   error = function(e) NULL)
    s3 <- ns$S3methods
    if (is.null(s3) || !nrow(s3)) next
    for (cls in s3[s3[, 1] == "predict", 2]) {
      if (is.na(index[cls])) index[cls] <- pkg
    }
  }
  .bridge_predict_index <<- index
  index
}

# The packages a model needs loaded for predict() to dispatch, in load order.
bridge_model_packages <- function(model) {
  index <- bridge_predict_index()
  pkgs <- unname(index[class(model)])
  pkgs <- pkgs[!is.na(pkgs)]
  if (inherits(model, "train")) {
    # caret calls the fitting package's own predict through modelInfo.
    pkgs <- c(pkgs, model$modelInfo$library)
  }
  unique(setdiff(pkgs, c("base", "stats")))
}

bridge_has_predict <- function(model) {
  any(class(model) %in% names(bridge_predict_index())) ||
    any(vapply(class(model), function(cls)
      !is.null(utils::getS3method("predict", cls, optional = TRUE)), TRUE))
}

bridge_load_packages <- function(pkgs) {
  for (pkg in pkgs) loadNamespace(pkg)
  invisible(pkgs)
}
