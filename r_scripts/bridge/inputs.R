# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

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
