# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- input types ------------------------------------------------------------

# What a model expects as newdata: a named list with
#   columns          one zero-length prototype vector per input column, NULL
#                    where the model keeps no type for it;
#   source           where that knowledge came from;
#   strings_unsafe   TRUE: a string sent for an untyped (NULL) column would
#                    reach R's default factor coding (levels from the request
#                    itself, in alphabetical order) and predict silently wrong,
#                    so the front refuses it. No model says otherwise: a model
#                    whose inputs take strings records them (or a ptype does);
#   untyped_factors  columns the model knows are factors but whose levels it
#                    keeps nowhere: no value can be coded for them at all.
bridge_inputs <- function(model) {
  found <- .inputs_found(model)
  found$strings_unsafe <- TRUE
  if (is.null(found$untyped_factors)) found$untyped_factors <- character(0)
  found
}

.inputs_found <- function(model) {
  ptype <- attr(model, "ptype", exact = TRUE)
  if (is.data.frame(ptype)) {
    return(list(columns = as.list(ptype[0, , drop = FALSE]), source = "ptype attribute"))
  }
  if (inherits(model, "ranger")) return(.inputs_ranger(model))
  if (inherits(model, "gbm")) return(.inputs_gbm(model))
  if (inherits(model, "cv.glmnet")) return(.inputs_glmnet(model$glmnet.fit))
  if (inherits(model, "glmnet")) return(.inputs_glmnet(model))
  if (inherits(model, "naiveBayes")) return(.inputs_naive_bayes(model))
  if (inherits(model, "randomForest") && is.null(model$terms)) return(.inputs_forest(model))
  if (inherits(model, "train") && is.null(model$terms)) return(.inputs_train(model))
  if (inherits(model, c("classbagg", "regbagg", "survbagg")) && length(model$mtrees)) {
    # ipred's bagging keeps types and levels only in its rpart trees.
    found <- .inputs_terms(model$mtrees[[1]]$btree)
    found$source <- "first bagged tree"
    return(found)
  }
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

# One component of a model, S3 list or S4 slot alike; NULL when absent.
.part <- function(model, name) {
  if (isS4(model)) {
    if (name %in% methods::slotNames(model)) return(methods::slot(model, name))
    return(NULL)
  }
  # .subset2: some classes (partykit's party) redefine [[ for other uses.
  if (is.list(model)) .subset2(model, name) else NULL
}

# Every variable the model reads from newdata: those of its terms, of its
# whole formula (random-effect grouping factors: y ~ x + (1 | g)), of
# formulas in its call (nlme's random = ~ 1 | g, offset = log(x)) and its
# stored grouping factors; never the response. Weights are not inputs: no
# predict() method reads them from newdata.
.model_vars <- function(model) {
  if (inherits(model, "nls")) {
    rhs <- stats::formula(model)[[3]]
    return(setdiff(all.vars(rhs), c(names(stats::coef(model)), "pi", "T", "F")))
  }
  response <- character(0)
  vars <- character(0)
  tt <- .model_terms(model)
  if (!is.null(tt)) {
    vars <- all.vars(stats::delete.response(tt))
    if (attr(tt, "response") > 0 && length(tt) == 3) response <- all.vars(tt[[2]])
  }
  f <- tryCatch(stats::formula(model), error = function(e) NULL)
  if (inherits(f, "formula")) {
    if (length(f) == 3) {
      response <- union(response, all.vars(f[[2]]))
      vars <- union(vars, all.vars(f[[3]]))
    } else {
      vars <- union(vars, all.vars(f[[2]]))
    }
  }
  call <- .model_call(model)
  if (is.call(call)) {
    for (part in c("random", "offset")) {
      if (is.language(call[[part]])) vars <- union(vars, all.vars(call[[part]]))
    }
  }
  groups <- .part(model, "groups")
  if (is.data.frame(groups)) vars <- union(vars, names(groups))
  setdiff(vars, c(response, "pi", "T", "F"))
}

# Factor levels the model keeps, by term: xlevels (most classes), a named
# list of levels (pscl), rows of stored contrast matrices (nlme), and a
# randomForest's forest.
.model_levels <- function(model) {
  out <- list()
  add <- function(found) {
    if (!is.list(found) || is.null(names(found))) return()
    for (n in names(found)) {
      lev <- found[[n]]
      if (is.matrix(lev)) lev <- rownames(lev)
      if (is.character(lev) && nzchar(n) && is.null(out[[n]])) out[[n]] <<- lev
    }
  }
  add(.part(model, "xlevels"))
  add(attr(model, "xlevels", exact = TRUE))
  add(.part(model, "levels"))
  add(.part(model, "contrasts"))
  if (inherits(model, "randomForest")) add(model$forest$xlevels)
  out
}

# Data the model was fitted on, raw or as a model frame.
.model_frames <- function(model) {
  parts <- lapply(c("model", "data", "frame", "trainingData", "groups"), .part, model = model)
  Filter(is.data.frame, parts)
}

# Functions whose result has the levels of their first argument: a term
# relevel(g, ref = "b") says g is a factor with those levels.
.level_keeping <- c("factor", "as.factor", "relevel", "ordered", "as.ordered", "droplevels", "C")

.wrapped <- function(v, terms) {
  for (term in terms) {
    expr <- tryCatch(str2lang(term), error = function(e) NULL)
    if (is.call(expr) && is.name(expr[[1]]) && as.character(expr[[1]]) %in% .level_keeping &&
        length(expr) >= 2 && identical(expr[[2]], as.name(v))) {
      return(term)
    }
  }
  NULL
}

.inputs_terms <- function(model) {
  vars <- .model_vars(model)
  tt <- .model_terms(model)
  classes <- if (!is.null(tt)) attr(tt, "dataClasses") else .part(model, "dataClasses")
  levels <- .model_levels(model)
  frames <- .model_frames(model)
  untyped <- character(0)
  proto <- function(v) {
    lev <- levels[[v]]
    for (fr in frames) {
      if (!(v %in% names(fr))) next
      x <- fr[[v]]
      if (!is.null(lev) && (is.factor(x) || is.character(x))) {
        return(factor(character(0), levels = lev, ordered = is.ordered(x)))
      }
      return(.zero_like(x))
    }
    if (!is.null(classes) && v %in% names(classes)) {
      found <- .proto_from_class(classes[[v]], lev)
      if (is.null(found) && classes[[v]] %in% c("factor", "ordered")) untyped <<- c(untyped, v)
      return(found)
    }
    term <- .wrapped(v, union(names(levels), names(classes)))
    if (!is.null(term)) {
      if (!is.null(levels[[term]])) return(factor(character(0), levels = levels[[term]]))
      if (identical(unname(classes[term]), "factor")) untyped <<- c(untyped, v)
    }
    NULL
  }
  cols <- lapply(vars, proto)
  names(cols) <- vars
  list(columns = cols, source = "model terms", untyped_factors = untyped)
}

# Rows of the training data, typed as the inputs are: predicting on them
# tells a model that fails on everything from one that fails on a request.
# NULL when the model keeps no data holding every input.
bridge_reference <- function(model, columns) {
  vars <- names(columns)
  if (!length(vars)) return(NULL)
  for (fr in .model_frames(model)) {
    if (!all(vars %in% names(fr))) next
    data <- fr[, vars, drop = FALSE]
    keep <- head(which(stats::complete.cases(data)), 2)
    if (!length(keep)) next
    out <- lapply(vars, function(v) .conform(data[[v]][keep], columns[[v]]))
    names(out) <- vars
    return(structure(out, row.names = c(NA_integer_, -length(keep)), class = "data.frame"))
  }
  NULL
}

.conform <- function(x, proto) {
  if (is.null(proto)) return(if (is.factor(x)) as.character(x) else x)
  if (is.factor(proto)) {
    return(factor(as.character(x), levels = levels(proto), ordered = is.ordered(proto)))
  }
  if (inherits(proto, c("Date", "POSIXct"))) return(x)
  methods::as(x, typeof(proto))
}

.inputs_naive_bayes <- function(model) {
  vars <- names(model$tables)
  cols <- lapply(vars, function(v) {
    if (isTRUE(model$isnumeric[[v]])) return(numeric(0))
    # A categorical input's table has one column per training level, in order.
    factor(character(0), levels = dimnames(model$tables[[v]])[[2]])
  })
  names(cols) <- vars
  list(columns = cols, source = "naiveBayes tables")
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
  # coded by level position and its levels are not stored: the columns stay
  # untyped, and strings for them are refused (strings_unsafe).
  list(columns = cols, source = "ranger forest")
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
