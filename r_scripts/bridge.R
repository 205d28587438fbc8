# R-side helpers of R Bridge.
#
# The Python side (bridge/rsession.py) sources this file once into its own
# environment. Everything that needs R knowledge lives here: how to read a
# model file, which package provides a model's predict() method, what input
# types a model was trained with, how to call predict() for classes whose
# method takes other argument names, and how to flatten what predict()
# returns into plain columns.

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

# ---- input types ------------------------------------------------------------

# What a model expects as newdata: a named list with one zero-length
# prototype vector per input column (NULL where the model keeps no type),
# and where that knowledge came from.
bridge_inputs <- function(model) {
  ptype <- attr(model, "ptype", exact = TRUE)
  if (is.data.frame(ptype)) {
    return(list(columns = as.list(ptype[0, , drop = FALSE]), source = "ptype attribute"))
  }
  if (inherits(model, "ranger")) return(.inputs_ranger(model))
  if (inherits(model, "gbm")) return(.inputs_gbm(model))
  if (inherits(model, "cv.glmnet")) return(.inputs_glmnet(model$glmnet.fit))
  if (inherits(model, "glmnet")) return(.inputs_glmnet(model))
  if (inherits(model, "randomForest") && is.null(model$terms)) return(.inputs_forest(model))
  if (inherits(model, "train") && is.null(model$terms)) return(.inputs_train(model))
  .inputs_terms(model)
}

.zero_like <- function(x) {
  # A zero-row slice keeps class, levels, ordering and time zone.
  x[0]
}

.proto_from_class <- function(cls, levels) {
  switch(cls,
    numeric = numeric(0),
    logical = logical(0),
    character = character(0),
    factor = if (is.null(levels)) NULL else factor(character(0), levels = levels),
    ordered = if (is.null(levels)) NULL else factor(character(0), levels = levels, ordered = TRUE),
    NULL)
}

.model_vars <- function(model) {
  tt <- tryCatch(stats::terms(model), error = function(e) NULL)
  if (!is.null(tt)) {
    vars <- all.vars(stats::delete.response(tt))
  } else if (inherits(model, "nls")) {
    rhs <- stats::formula(model)[[3]]
    vars <- setdiff(all.vars(rhs), names(stats::coef(model)))
  } else {
    vars <- character(0)
  }
  # An offset passed as an argument (glm(offset = log(x))) reads newdata too.
  if (is.call(model$call) && !is.null(model$call$offset)) {
    vars <- union(vars, all.vars(model$call$offset))
  }
  setdiff(vars, c("pi", "T", "F"))
}

.inputs_terms <- function(model) {
  vars <- .model_vars(model)
  tt <- tryCatch(stats::terms(model), error = function(e) NULL)
  classes <- if (!is.null(tt)) attr(tt, "dataClasses") else model$dataClasses
  xlev <- model$xlevels
  if (is.null(xlev)) xlev <- attr(model, "xlevels", exact = TRUE)
  if (is.null(xlev) && inherits(model, "randomForest")) xlev <- model$forest$xlevels
  frames <- Filter(is.data.frame, list(model$model, model$data, model$trainingData))
  cols <- lapply(vars, function(v) {
    for (fr in frames) if (v %in% names(fr)) return(.zero_like(fr[[v]]))
    if (!is.null(classes) && v %in% names(classes)) {
      return(.proto_from_class(classes[[v]], xlev[[v]]))
    }
    NULL
  })
  names(cols) <- vars
  list(columns = cols, source = "model terms")
}

.inputs_forest <- function(model) {
  xlev <- model$forest$xlevels
  ncat <- model$forest$ncat
  cols <- lapply(names(xlev), function(v) {
    lev <- xlev[[v]]
    if (!is.character(lev)) return(numeric(0))
    factor(character(0), levels = lev, ordered = ncat[[v]] == 1)
  })
  names(cols) <- names(xlev)
  list(columns = cols, source = "randomForest forest")
}

.inputs_ranger <- function(model) {
  vars <- model$forest$independent.variable.names
  lev <- model$forest$covariate.levels
  cols <- lapply(vars, function(v) {
    if (!is.null(lev) && length(lev[[v]])) {
      return(factor(character(0), levels = lev[[v]], ordered = FALSE))
    }
    NULL
  })
  names(cols) <- vars
  # With respect.unordered.factors = "ignore" (ranger's default) a factor is
  # coded by level position and its levels are not stored: a string sent for
  # such a column would be coded against the request's own levels.
  list(columns = cols, source = "ranger forest", strings_unsafe = is.null(lev))
}

.inputs_gbm <- function(model) {
  cols <- lapply(seq_along(model$var.names), function(i) {
    lev <- model$var.levels[[i]]
    if (model$var.type[i] > 0) return(factor(character(0), levels = lev))
    # gbm keeps an ordered factor as numeric type with its levels.
    if (is.character(lev)) return(factor(character(0), levels = lev, ordered = TRUE))
    numeric(0)
  })
  names(cols) <- model$var.names
  list(columns = cols, source = "gbm var.names/var.levels")
}

.inputs_glmnet <- function(fit) {
  beta <- if (is.list(fit$beta)) fit$beta[[1]] else fit$beta
  vars <- rownames(beta)
  cols <- rep(list(numeric(0)), length(vars))
  names(cols) <- vars
  list(columns = cols, source = "glmnet coefficient names")
}

.inputs_train <- function(model) {
  data <- model$trainingData
  data <- data[0, setdiff(names(data), ".outcome"), drop = FALSE]
  list(columns = as.list(data), source = "caret trainingData")
}

# ---- calling predict ---------------------------------------------------------

# How to call predict() for this model: a function(model, newdata, args).
# Classes whose predict takes other argument names get an adapter so the
# caller never needs to know them.
bridge_predictor <- function(model) {
  if (inherits(model, "ranger")) {
    return(function(model, newdata, args) {
      .predict(model, list(data = quote(newdata)), args)$predictions
    })
  }
  if (inherits(model, "gbm")) {
    return(function(model, newdata, args) {
      if (is.null(args$n.trees)) args$n.trees <- model$n.trees
      .predict(model, list(newdata = quote(newdata)), args)
    })
  }
  if (inherits(model, c("glmnet", "cv.glmnet"))) {
    fit <- if (inherits(model, "cv.glmnet")) model$glmnet.fit else model
    vars <- names(.inputs_glmnet(fit)$columns)
    return(function(model, newdata, args) {
      if (is.null(args$s) && !inherits(model, "cv.glmnet")) {
        # Without s, glmnet predicts for every lambda; take the least
        # penalised one, like a plain fit would.
        args$s <- min(model$lambda)
      }
      newx <- data.matrix(newdata[, vars, drop = FALSE])
      .predict(model, list(newx = quote(newx)), args)
    })
  }
  function(model, newdata, args) {
    .predict(model, list(newdata = quote(newdata)), args)
  }
}

# predict(model, <data>, <args>) evaluated in the caller's frame, with the
# model and the data as names in the call rather than their values: R code
# that looks at its own call (match.call, sys.call) then handles a symbol,
# not a copy of the whole fitted model (do.call inlines values; measured
# +0.1 to 0.4 ms per call for lm).
.predict <- function(model, data, args) {
  call <- as.call(c(list(quote(stats::predict), quote(model)), data, args))
  eval(call, parent.frame())
}

# Builds newdata and runs a predictor, keeping R's warnings and classifying
# R's error: one that comes from the caller's input or args is "input",
# anything else "model". The common answer (a plain vector, one value per
# row, no warnings) is returned as that vector alone: cheapest to read.
bridge_predict <- function(predictor, model, cols, classes, n, args) {
  newdata <- bridge_frame(cols, classes, n)
  warnings <- NULL
  result <- withCallingHandlers(
    tryCatch(predictor(model, newdata, args), error = function(e) e),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (inherits(result, "error")) {
    msg <- conditionMessage(result)
    return(list(error = msg, kind = .error_kind(msg), warnings = as.character(warnings)))
  }
  if (is.null(warnings) && is.atomic(result) && is.null(dim(result)) && length(result) == n) {
    return(.plain(result))
  }
  out <- bridge_flatten(result, n)
  out$warnings <- as.character(unique(warnings))
  out
}

.input_error_patterns <- c(
  "has new level", "new levels", "New factor levels", "should be one of",
  "unused argument", "not in the training data", "not found in data",
  "invalid 'type'", "must be one of", "arguments imply differing number",
  "not interpretable as logical", "argument is not interpretable", "invalid argument",
  "non-numeric argument", "argument of length 0", "must be numeric", "must be logical",
  # a string where predict() wants a flag, e.g. se.fit = "yes"
  "type in 'x ||", "type in 'x &&",
  # a caller's argument name that R's partial matching finds ambiguous
  "matches multiple formal arguments", "matched by multiple actual arguments")

.error_kind <- function(msg) {
  hit <- vapply(.input_error_patterns, grepl, TRUE, x = msg, fixed = TRUE)
  if (any(hit)) "input" else "model"
}

# ---- flattening results ------------------------------------------------------

# Turns what predict() returned into list(kind, columns, info):
# kind "vector": columns holds one atomic vector, one entry per row;
# kind "table": columns holds named atomic vectors, one object per row;
# info holds the components that are not per row (df, residual.scale).
bridge_flatten <- function(result, n) {
  if (is.data.frame(result)) {
    return(list(kind = "table", columns = lapply(as.list(result), .plain), info = list()))
  }
  if (is.matrix(result) || (is.array(result) && length(dim(result)) == 2)) {
    return(.flatten_matrix(result))
  }
  if (is.list(result)) {
    return(.flatten_list(result, n))
  }
  list(kind = "vector", columns = list(.plain(result)), info = list())
}

.flatten_matrix <- function(m) {
  # One column (glmnet's "s1", a single-lambda fit) is one value per row.
  if (ncol(m) == 1) {
    return(list(kind = "vector", columns = list(.plain(m[, 1])), info = list()))
  }
  names <- colnames(m)
  if (is.null(names)) names <- as.character(seq_len(ncol(m)))
  cols <- lapply(seq_len(ncol(m)), function(j) .plain(m[, j]))
  names(cols) <- names
  list(kind = "table", columns = cols, info = list())
}

# A list such as predict(se.fit = TRUE): per-row components become fields of
# each row's object (a matrix component, e.g. fit with an interval, becomes
# "fit.lwr"-style fields); the rest goes to info.
# Parts of a predict() list that describe the call, not a row: with one row
# they have the same length as a per-row part, so they are known by name.
.per_call_parts <- c("df", "residual.scale", "scale", "rank", "num.trees", "num.samples",
                     "num.independent.variables", "treetype", "n.trees")

.flatten_list <- function(result, n) {
  cols <- list()
  info <- list()
  for (name in names(result)) {
    part <- result[[name]]
    if (is.matrix(part) && nrow(part) == n) {
      sub <- .flatten_matrix(part)
      if (sub$kind == "vector") {
        cols[[name]] <- sub$columns[[1]]
      } else {
        for (col in names(sub$columns)) cols[[paste(name, col, sep = ".")]] <- sub$columns[[col]]
      }
    } else if (is.atomic(part) && length(part) == n && !(name %in% .per_call_parts)) {
      cols[[name]] <- .plain(part)
    } else if (is.atomic(part) && length(part) <= 1) {
      info[[name]] <- .plain(part)
    }
  }
  list(kind = "table", columns = cols, info = info)
}

# Plain atomic vector without names: factors become their labels, dates
# their ISO-8601 text, so the Python side reads only four vector types.
.plain <- function(x) {
  if (is.factor(x)) return(as.character(x))
  if (inherits(x, "Date")) return(format(x, "%Y-%m-%d"))
  if (inherits(x, "POSIXt")) return(format(x, "%Y-%m-%dT%H:%M:%OSZ", tz = "UTC"))
  if (is.complex(x) || is.raw(x)) x <- as.character(x)
  # Drops names (one per row) and any class without touching the values.
  attributes(x) <- NULL
  x
}

# A sidecar <name>.R defines predict_fn(model, newdata, ...), used instead of
# predict(): for matrix-input models, preprocessing, or post-processing.
bridge_custom_predictor <- function(path) {
  env <- new.env(parent = globalenv())
  sys.source(path, envir = env)
  if (!exists("predict_fn", envir = env, inherits = FALSE) ||
      !is.function(get("predict_fn", envir = env))) {
    stop(basename(path), " must define predict_fn(model, newdata, ...)")
  }
  fn <- get("predict_fn", envir = env)
  function(model, newdata, args) eval(as.call(c(list(fn, quote(model), quote(newdata)), args)))
}

# ---- building newdata --------------------------------------------------------

# The Python side sends plain vectors (levels and tzone already set) and the
# class of each; class<- here sets R's object bit, which rpy2 cannot.
bridge_frame <- function(cols, classes, n) {
  for (i in seq_along(cols)) {
    if (!is.null(classes[[i]])) class(cols[[i]]) <- classes[[i]]
  }
  structure(cols, row.names = c(NA_integer_, -n), class = "data.frame")
}
