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
#   missing_note     said after a missing-column refusal: for a model fitted
#                    on a numeric matrix, that its inputs are the matrix's
#                    columns and where to turn raw columns into them.
#   new_levels       list(columns, argument, value) rules: with that
#                    argument at that value, the model's predict() answers
#                    a level of these factors it never saw as it answers NA
#                    (the population level), so the front sends NA for one
#                    instead of refusing it.
#   optional         prototypes of columns passed on when a request has them
#                    and not asked for otherwise: coxph's response (time,
#                    status), which predict() reads for type = "expected" or
#                    "survival" only.
bridge_inputs <- function(model) {
  found <- .inputs_found(model)
  found$strings_unsafe <- TRUE
  if (is.null(found$untyped_factors)) found$untyped_factors <- character(0)
  found$new_levels <- .new_level_rules(model, names(found$columns))
  found$optional <- .optional_inputs(model, names(found$columns))
  entry <- bridge_data_adapter(model)
  if (identical(entry$shape, "matrix") && is.null(attr(model, "ptype", exact = TRUE))) {
    found$missing_note <- paste0(
      ". This model was fitted on a numeric matrix: its inputs are that matrix's columns. ",
      "Where they were made from other columns (a model.matrix: dummies such as 'cyl6'), the ",
      "model does not record how, so the raw columns cannot be taken here: send the matrix's ",
      "columns, or serve the model with a predict_fn sidecar (<name>.R, docs/models.md ",
      "\"Sidecars\") that builds them from the raw ones")
  }
  found
}

# Grouping factors of random effects whose levels R takes unseen for one
# argument value, answering the fixed effects alone for such a row, as for
# an NA: lme4's allow.new.levels = TRUE ("the unconditional
# (population-level) values for data with previously unobserved levels (or
# NAs)", ?predict.merMod) and nlme's level = 0 (the fixed effects only: the
# groups are not read). A variable the model also reads elsewhere (a fixed
# effect, a random slope) is left out: there NA is not a new level.
.new_level_rules <- function(model, inputs) {
  rule <- function(groups, other, argument, value) {
    cols <- intersect(setdiff(groups, other), inputs)
    if (!length(cols)) return(list())
    list(list(columns = cols, argument = argument, value = value))
  }
  if (inherits(model, "merMod")) {
    f <- tryCatch(stats::formula(model), error = function(e) NULL)
    if (!inherits(f, "formula") || length(f) != 3) return(list())
    bars <- lme4::findbars(f)
    groups <- unique(unlist(lapply(bars, function(b) all.vars(b[[3]]))))
    other <- c(all.vars(lme4::nobars(f)[[3]]), unlist(lapply(bars, function(b) all.vars(b[[2]]))))
    return(rule(groups, other, "allow.new.levels", TRUE))
  }
  if (inherits(model, "lme") && is.data.frame(model$groups)) {
    f <- tryCatch(stats::formula(model), error = function(e) NULL)
    if (!inherits(f, "formula") || length(f) != 3) return(list())
    return(rule(names(model$groups), all.vars(f[[3]]), "level", 0))
  }
  list()
}

# coxph's predict() reads the response's variables from newdata for type =
# "expected" and "survival" (the time each row's prediction is at): they are
# optional inputs, untyped where the model keeps no raw copy of them.
.optional_inputs <- function(model, inputs) {
  tt <- if (inherits(model, "coxph")) .model_terms(model) else NULL
  if (is.null(tt) || !isTRUE(attr(tt, "response") > 0) || length(tt) != 3) return(list())
  vars <- setdiff(all.vars(tt[[2]]), inputs)
  frames <- .model_frames(model)
  cols <- lapply(vars, function(v) {
    for (fr in frames) if (v %in% names(fr) && is.atomic(fr[[v]]) && is.null(dim(fr[[v]]))) return(.zero_like(fr[[v]]))
    NULL
  })
  stats::setNames(cols, vars)
}

.inputs_found <- function(model) {
  ptype <- attr(model, "ptype", exact = TRUE)
  if (is.data.frame(ptype)) {
    return(list(columns = as.list(ptype[0, , drop = FALSE]), source = "ptype attribute"))
  }
  entry <- bridge_data_adapter(model)
  if (!is.null(entry$inputs)) return(entry$inputs(model))
  if (inherits(model, "ranger")) return(.inputs_ranger(model))
  if (inherits(model, "gbm")) return(.inputs_gbm(model))
  if (inherits(model, "naiveBayes")) return(.inputs_naive_bayes(model))
  if (inherits(model, "randomForest") && is.null(model$terms)) return(.inputs_forest(model))
  if (inherits(model, "train") && is.list(model$recipe)) return(.inputs_recipe(model$recipe, model))
  if (inherits(model, "train") && is.null(model$terms)) return(.inputs_train(model))
  if (inherits(model, "recipe")) return(.inputs_recipe(model, model))
  if (inherits(model, "prophet")) return(.inputs_prophet(model))
  predictors <- .hardhat_predictors(model)
  if (!is.null(predictors)) {
    return(list(columns = as.list(predictors[0, , drop = FALSE]), source = "hardhat blueprint ptypes"))
  }
  if (inherits(model, c("classbagg", "regbagg", "survbagg")) && length(model$mtrees)) {
    # ipred's bagging keeps types and levels only in its rpart trees.
    found <- .inputs_terms(model$mtrees[[1]]$btree)
    found$source <- "first bagged tree"
    return(found)
  }
  found <- .inputs_terms(model)
  if (!length(found$columns)) {
    # No terms of its own (the older party's S4 trees keep them in their
    # data slots): the terms of the data frame the object keeps.
    for (fr in .model_frames(model)) {
      tt <- attr(fr, "terms", exact = TRUE)
      if (inherits(tt, "terms") && attr(tt, "response") == 0 && ncol(fr)) {
        return(list(columns = as.list(fr[0, , drop = FALSE]), source = "terms of the stored inputs"))
      }
    }
  }
  found
}

# ---- training data kept inside the object -------------------------------------

# Data frames a model object holds, found without running any of its code:
# S3 list components and S4 slots, breadth first, at most `depth` levels
# down and `budget` components looked at; lists longer than `wide` (a
# forest's trees) are not entered. Environments, functions, calls and
# promises are never touched; data frames are returned, not entered.
.frames_inside <- function(model, depth = 4L, budget = 400L, wide = 64L) {
  found <- list()
  queue <- list(model)
  level <- 0L
  seen <- 0L
  while (length(queue) && level <= depth && seen < budget) {
    nxt <- list()
    for (x in queue) {
      seen <- seen + 1L
      if (seen > budget) break
      if (is.data.frame(x)) {
        found[[length(found) + 1L]] <- x
        next
      }
      parts <- if (isS4(x)) {
        lapply(methods::slotNames(x), function(n) methods::slot(x, n))
      } else if (is.list(x) && length(unclass(x)) <= wide) {
        # unclass: some classes redefine length() and [[ (partykit's party).
        as.list(unclass(x))
      } else {
        list()
      }
      for (p in parts) {
        if (is.data.frame(p) || isS4(p) || (is.list(p) && !is.null(p) && length(p))) {
          nxt[[length(nxt) + 1L]] <- p
        }
      }
    }
    queue <- nxt
    level <- level + 1L
  }
  found
}

# The older party's S4 trees keep their inputs in a modeltools ModelEnv: a
# data environment of data frames, read here by name (never through the
# object's own get() function).
.model_env_frames <- function(model) {
  if (!isS4(model) || !("data" %in% methods::slotNames(model))) return(list())
  data <- methods::slot(model, "data")
  if (!isS4(data) || !("env" %in% methods::slotNames(data))) return(list())
  env <- methods::slot(data, "env")
  if (!is.environment(env)) return(list())
  out <- list()
  for (name in c("input", "response")) {
    if (exists(name, envir = env, inherits = FALSE) && !bindingIsActive(name, env)) {
      x <- get(name, envir = env, inherits = FALSE)
      if (is.data.frame(x)) out[[length(out) + 1L]] <- x
    }
  }
  out
}

# A predictor ptype a hardhat blueprint records (models built with hardhat's
# mold(): a zero-row data frame of exactly the predictors), or NULL.
.hardhat_predictors <- function(model) {
  if (!is.list(model) || !is.list(model$blueprint)) return(NULL)
  ptypes <- model$blueprint$ptypes
  if (is.list(ptypes) && is.data.frame(ptypes$predictors)) ptypes$predictors else NULL
}

# A recipe's inputs: the variables whose role is "predictor" and nothing
# else (not the outcome, case weights, an ID or any other role), typed from
# the data it was prepared on.
.inputs_recipe <- function(rec, model) {
  info <- rec$var_info
  vars <- unique(info$variable[info$role %in% "predictor"])
  frames <- Filter(is.data.frame, list(rec$ptype, rec$template, .part(model, "trainingData")))
  levels <- rec$orig_lvls
  cols <- lapply(vars, function(v) {
    for (fr in frames) if (v %in% names(fr)) return(.zero_like(fr[[v]]))
    lev <- if (is.list(levels)) levels[[v]] else NULL
    if (is.list(lev) && isTRUE(lev$factor)) return(factor(character(0), levels = lev$values,
                                                           ordered = isTRUE(lev$ordered)))
    NULL
  })
  names(cols) <- vars
  # A factor whose unseen labels a trained step handles takes any label, as
  # in R: step_novel makes such a label its new level, step_other pools it
  # into its "other" level (the adapter turns the strings back into the
  # factor recipes expects).
  # (The training levels ride along: a number or boolean sent names one of
  # them as for a factor, 4 for "4".)
  open <- .recipe_open(rec)
  for (v in intersect(names(open), vars)) cols[[v]] <- structure(character(0), levels = as.character(open[[v]]))
  list(columns = cols, source = "recipe predictors")
}

# Training levels, by variable, of the factors a trained, not skipped step
# gives any label a level of its own: step_novel (its new level) and
# step_other pooling (a label outside the ones it keeps becomes "other";
# with collapse FALSE it kept every level and pools nothing).
.recipe_open <- function(rec) {
  out <- list()
  orig <- rec$orig_lvls
  for (step in rec$steps) {
    if (!isTRUE(step$trained) || !is.list(step$objects) || isTRUE(step$skip)) next
    for (v in names(step$objects)) {
      obj <- step$objects[[v]]
      if (!is.null(out[[v]])) next
      if (inherits(step, "step_novel") && is.character(obj)) {
        out[[v]] <- obj
      } else if (inherits(step, "step_other") && is.list(obj) && isTRUE(obj$collapse)) {
        # (A character column takes any string already.)
        lev <- if (is.list(orig) && is.list(orig[[v]]) && isTRUE(orig[[v]]$factor)) orig[[v]] else NULL
        if (!is.null(lev)) out[[v]] <- structure(lev$values, is_ordered = isTRUE(lev$ordered))
      }
    }
  }
  out
}

# Columns recipes requires at bake() time that are not predictors nor the
# outcome (an "ID" role, say): zero-row prototypes, filled in by the adapter.
.recipe_fill <- function(rec) {
  info <- rec$var_info
  req <- rec$requirements$bake
  roles <- setdiff(unique(info$role), c("predictor", "outcome", "case_weights"))
  if (is.logical(req)) roles <- setdiff(roles, names(req)[!req])
  vars <- unique(info$variable[info$role %in% roles & !is.na(info$role)])
  vars <- setdiff(vars, info$variable[info$role %in% "predictor"])
  frames <- Filter(is.data.frame, list(rec$ptype, rec$template))
  out <- list()
  for (v in vars) for (fr in frames) if (v %in% names(fr) && is.null(out[[v]])) out[[v]] <- fr[[v]][0]
  out
}

# prophet predicts from a data frame of ds (a date-time, as in its history)
# and the extra regressors, plus cap for logistic growth.
.inputs_prophet <- function(model) {
  history <- model$history
  vars <- c("ds", names(model$extra_regressors),
            if (identical(model$growth, "logistic")) c("cap", if (isTRUE(model$logistic.floor)) "floor"))
  cols <- lapply(vars, function(v) if (is.data.frame(history) && v %in% names(history))
    .zero_like(history[[v]]) else numeric(0))
  names(cols) <- vars
  list(columns = cols, source = "prophet history")
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
    # (quantreg's rqss keeps its qss() terms as text in "specials", where
    # delete.response() fails: the right-hand side is the same variables.)
    vars <- tryCatch(all.vars(stats::delete.response(tt)),
                     error = function(e) all.vars(tt[[length(tt)]]))
    if (attr(tt, "response") > 0 && length(tt) == 3) response <- all.vars(tt[[2]])
  }
  # Variables the terms name only as arguments that their predvars hold as
  # values (ns(wt, knots = k), poly(hp, deg): k and deg were read once, at
  # fit) are not read from newdata.
  pv <- if (is.null(tt)) NULL else attr(tt, "predvars")
  baked <- if (is.call(pv)) setdiff(all.vars(tt), all.vars(pv)) else character(0)
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
    for (part in c("random", "offset", if (inherits(model, "nlme")) "fixed")) {
      if (is.language(call[[part]])) vars <- union(vars, all.vars(call[[part]]))
    }
    # Formulas of further linear predictors the model's predict() reads
    # from newdata: ordinal::clm's scale = ~ x and nominal = ~ z.
    for (part in .formula_parts) {
      f <- call[[part]]
      if (is.call(f) && identical(f[[1]], as.name("~"))) vars <- union(vars, all.vars(f[[length(f)]]))
    }
  }
  groups <- .part(model, "groups")
  if (is.data.frame(groups)) vars <- union(vars, names(groups))
  # nlme's nonlinear parameters (Asym in fixed = Asym ~ 1) are the model's
  # own, not inputs: its covariates (fixed = Asym ~ Trt) are.
  params <- if (inherits(model, "nlme") && is.list(.part(model, "plist"))) names(model$plist) else NULL
  setdiff(vars, c(response, params, baked, "pi", "T", "F"))
}

.formula_parts <- c("scale", "nominal")

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
  # ordinal::clm: the levels of its scale and nominal formulas' factors
  add(.part(model, "S.xlevels"))
  add(.part(model, "nom.xlevels"))
  add(.part(model, "levels"))
  add(.part(model, "contrasts"))
  if (inherits(model, "randomForest")) add(model$forest$xlevels)
  out
}

# The levels of the variables inside strata() terms, by variable, where the
# model keeps them only as its strata's labels: coxph in xlevels (under the
# term's label), survreg as the names of its scales. survival labels a
# stratum of one factor or character variable by its level ("male"), and
# otherwise "v=value" ("ph.ecog=1"; of several variables "sex=male,
# ph.ecog=1"). Both methods find a row's stratum by that label, so a
# variable whose values are numbers is numeric, TRUE/FALSE logical (R
# labels such a value the same way, whatever its type was in training),
# any other a factor of those levels. Labels that do not parse give nothing.
.strata_protos <- function(model) {
  tt <- .model_terms(model)
  if (is.null(tt) || !inherits(model, c("coxph", "survreg"))) return(list())
  xlev <- .part(model, "xlevels")
  scale <- .part(model, "scale")
  out <- list()
  for (term in attr(tt, "term.labels")) {
    expr <- tryCatch(str2lang(term), error = function(e) NULL)
    if (!is.call(expr) || !identical(expr[[1]], as.name("strata")) || length(expr) < 2) next
    args <- as.list(expr)[-1]
    if (!all(vapply(args, is.name, TRUE)) || !is.null(names(args)) && any(nzchar(names(args)))) next
    vars <- vapply(args, as.character, "")
    labels <- if (is.list(xlev) && is.character(xlev[[term]])) xlev[[term]] else
      if (inherits(model, "survreg") && length(scale) > 1) names(scale) else NULL
    if (!is.character(labels) || !length(labels)) next
    values <- .strata_values(labels, vars)
    for (v in setdiff(names(values), names(out))) {
      x <- values[[v]]
      # Bare labels are one factor's levels, numbers or not ("4", "6", "8").
      out[[v]] <- if (isTRUE(attr(values, "bare"))) factor(character(0), levels = x) else
        if (all(x %in% c("TRUE", "FALSE"))) logical(0) else
        if (!anyNA(suppressWarnings(as.numeric(x)))) numeric(0) else factor(character(0), levels = unique(x))
    }
  }
  out
}

# Each variable's values in strata labels, or list() where they do not parse;
# attr "bare": the labels are one factor's (or character's) own levels.
.strata_values <- function(labels, vars) {
  if (length(vars) == 1) {
    prefix <- paste0(vars, "=")
    # A factor's own levels, unless every one is "v=..." (then it was not one).
    if (!all(startsWith(labels, prefix))) return(structure(stats::setNames(list(labels), vars), bare = TRUE))
    return(stats::setNames(list(substring(labels, nchar(prefix) + 1L)), vars))
  }
  out <- rep(list(character(0)), length(vars))
  names(out) <- vars
  for (label in labels) {
    rest <- label
    for (i in seq_along(vars)) {
      prefix <- paste0(vars[i], "=")
      if (!startsWith(rest, prefix)) return(list())
      rest <- substring(rest, nchar(prefix) + 1L)
      if (i < length(vars)) {
        at <- regexpr(paste0(", ", vars[i + 1L], "="), rest, fixed = TRUE)
        if (at < 0) return(list())
        out[[i]] <- c(out[[i]], substring(rest, 1L, at - 1L))
        rest <- substring(rest, at + 2L)
      } else {
        out[[i]] <- c(out[[i]], rest)
      }
    }
  }
  out
}

# Data the model was fitted on, raw or as a model frame: the components
# where classes keep it, the data its call names when the file holds it
# beside the model (bridge_with_file_data), the older party's data slots,
# then any data frame found inside the object (.frames_inside).
# A frame found by searching is used only when it holds every input (vars).
.model_frames <- function(model, vars = NULL) {
  parts <- lapply(c("model", "data", "frame", "trainingData", "groups"), .part, model = model)
  parts <- c(parts, list(attr(model, "bridge_file_data", exact = TRUE)), .model_env_frames(model))
  parts <- Filter(is.data.frame, parts)
  inside <- Filter(function(fr) all(vars %in% names(fr)) &&
                     !any(vapply(parts, identical, TRUE, fr)), .frames_inside(model))
  c(parts, inside)
}

# A model whose call names its data (lm(y ~ x, data = train)) saved in one
# file with that data frame: the frame, resolved by name among the file's
# own objects (never evaluated), is kept on the model as its record of
# types. Only the first rows are kept: types and levels, and reference rows.
bridge_with_file_data <- function(model, objects) {
  call <- tryCatch(.model_call(model), error = function(e) NULL)
  if (!is.call(call) || !is.name(call$data) || !is.list(objects)) return(model)
  name <- as.character(call$data)
  data <- if (name %in% names(objects)) objects[[name]] else NULL
  if (!is.data.frame(data)) return(model)
  attr(model, "bridge_file_data") <- utils::head(data, 50L)
  model
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
  frames <- .model_frames(model, vars)
  strata <- .strata_protos(model)
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
    if (!is.null(strata[[v]])) return(strata[[v]])
    term <- .wrapped(v, union(names(levels), names(classes)))
    if (!is.null(term)) {
      if (!is.null(levels[[term]])) return(factor(character(0), levels = levels[[term]]))
      if (identical(unname(classes[term]), "factor")) untyped <<- c(untyped, v)
    }
    NULL
  }
  cols <- lapply(vars, proto)
  names(cols) <- vars
  wide <- .matrix_inputs(vars, frames, classes)
  if (length(wide)) {
    cols <- do.call(c, lapply(vars, function(v) {
      if (is.null(wide[[v]])) return(cols[v])
      stats::setNames(rep(list(numeric(0)), length(wide[[v]])), wide[[v]])
    }))
  }
  list(columns = cols, source = "model terms", untyped_factors = untyped, matrix_inputs = wide)
}

# A numeric matrix column of the training data (pls's spectra: plsr(octane
# ~ NIR), NIR a 401-column matrix) cannot be one JSON value: it is one
# numeric input per matrix column, named as write.csv() and data.frame()
# name them ("NIR.900 nm"; "NIR.1" where the matrix has no column names),
# and the predictor binds them back into the matrix (.binding_matrices).
# By variable, the flat names; none where they would collide.
.matrix_inputs <- function(vars, frames, classes) {
  out <- list()
  for (v in vars) {
    flat <- NULL
    for (fr in frames) {
      if (!(v %in% names(fr))) next
      x <- fr[[v]]
      if (is.matrix(x) && is.numeric(x) && ncol(x) > 0) {
        flat <- paste(v, if (is.null(colnames(x))) seq_len(ncol(x)) else colnames(x), sep = ".")
      }
      break
    }
    cls <- if (!is.null(classes) && v %in% names(classes)) classes[[v]] else ""
    if (is.null(flat) && grepl("^nmatrix\\.[0-9]+$", cls)) {
      flat <- paste(v, seq_len(as.integer(sub("nmatrix.", "", cls, fixed = TRUE))), sep = ".")
    }
    if (!is.null(flat) && !anyDuplicated(flat) && !any(flat %in% vars)) out[[v]] <- flat
  }
  out
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

# caret fitted on x and y: the predictors are trainingData less .outcome.
.inputs_train <- function(model) {
  data <- model$trainingData
  data <- data[0, setdiff(names(data), ".outcome"), drop = FALSE]
  list(columns = as.list(data), source = "caret trainingData")
}
