# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- data arguments other than newdata --------------------------------------
#
# Most predict() methods take the caller's rows as `newdata`, a data frame.
# Some take them as another argument or another shape; this table says, per
# class, how the request's table becomes that argument, so these classes are
# served directly. Each entry is fixed code keyed by class, never anything
# from a request:
#   class    classes the entry is for (the first one the model inherits wins);
#   arg      the argument's name; NA passes the data positionally (after the model);
#   shape    "frame"  the data frame as built (bridge_frame);
#            "matrix" a numeric matrix whose columns are the fitted column
#                     names, in the fitted order;
#            "vector" the single input column as a plain vector;
#   inputs   function(model) -> list(columns, source): the inputs when the
#            model's terms do not say (NULL: read as for any model, inputs.R);
#   defaults function(model, args) -> args: argument defaults the bridge
#            supplies (NULL: R's own defaults);
#   prepare  function(model) -> function(newdata) -> newdata: what the rows
#            need before the call (NULL: nothing);
#   part     a component of the result that holds the predictions (NULL: all);
#   post     function(result, newdata) -> result: puts an answer whose rows
#            the method reordered back in the caller's order (NULL: none);
#   args     predict() arguments a caller may pass that the method's formals
#            do not show (they reach an inner function through `...`).
# The result goes through flatten.R like any other: a list such as
# smooth.spline's list(x, y) is one row per input row with both fields.
.data_adapters <- list(
  list(class = "smooth.spline", arg = "x", shape = "vector",
       inputs = function(model) list(columns = list(x = numeric(0)), source = "smooth.spline x")),
  list(class = c("cv.glmnet", "glmnet"), arg = "newx", shape = "matrix",
       inputs = function(model) {
         .inputs_glmnet(if (inherits(model, "cv.glmnet")) model$glmnet.fit else model)
       }),
  list(class = "mars", arg = "newdata", shape = "matrix",
       inputs = function(model) .numeric_inputs(colnames(model$factor), "mars term factor columns")),
  list(class = c("MclustDA", "Mclust"), arg = "newdata", shape = "frame",
       inputs = function(model) .numeric_inputs(colnames(model$data), "mclust training data")),
  # ranger answers an object whose predictions are the rows' answer; with
  # type = "se" its standard errors are another part, kept beside them.
  list(class = "ranger", arg = "data", shape = "frame",
       post = function(out, newdata) {
         if (is.null(out$se)) return(out$predictions)
         list(predictions = out$predictions, se = out$se)
       }),
  # The older party's predict(object, ...) hands `...` to a function kept in
  # a package object (conditionalTree@predict), out of args.R's sight.
  list(class = c("BinaryTree", "RandomForest"), arg = "newdata", shape = "frame", args = "type"),
  # predict.prophet(object, df): newdata would fall into its `...` unread,
  # and it would answer its own history. It answers its rows sorted by ds
  # (a stable sort): put back in the caller's order.
  list(class = "prophet", arg = "df", shape = "frame",
       post = function(out, newdata) {
         if (!is.data.frame(out) || nrow(out) != nrow(newdata)) return(out)
         out <- out[order(order(newdata$ds, method = "radix")), , drop = FALSE]
         rownames(out) <- NULL
         out
       }),
  # e1071's svm answers probability = TRUE and decision.values = TRUE as
  # attributes of its labels, which a plain vector would drop: the labels
  # and those matrices, each put back on its row (it drops rows with NAs).
  list(class = "svm", arg = "newdata", shape = "frame",
       post = function(out, newdata) .attached_rows(out, nrow(newdata),
                                                    c("probabilities", "decision.values"))),
  list(class = "gbm", arg = "newdata", shape = "frame",
       defaults = function(model, args) {
         if (is.null(args$n.trees)) args$n.trees <- model$n.trees
         args
       }),
  # recipes refuses to bake without every column of a role it requires at
  # bake time (an "ID", say) though no step reads it for predictions: those
  # are filled with missing values of their training type (inputs.R never
  # asks a caller for them). A factor whose unseen labels a step handles
  # (step_novel, step_other: inputs.R's .recipe_open) arrives as labels: it
  # goes to recipes as the factor of its training levels, then the labels
  # it never saw, which the step turns into its new or "other" level.
  list(class = "train.recipe", arg = "newdata", shape = "frame",
       fill = function(model) .recipe_fill(model$recipe),
       prepare = function(model) {
         novel <- .recipe_open(model$recipe)
         function(newdata) {
           for (v in intersect(names(novel), names(newdata))) {
             x <- as.character(newdata[[v]])
             lev <- novel[[v]]
             newdata[[v]] <- factor(x, levels = c(lev, setdiff(unique(x[!is.na(x)]), lev)),
                                    ordered = isTRUE(attr(lev, "is_ordered")))
           }
           newdata
         }
       })
)

# The adapter of a model, or NULL (newdata = the data frame).
bridge_data_adapter <- function(model) {
  for (entry in .data_adapters) if (inherits(model, entry$class)) return(entry)
  .formals_adapter(model)
}

# A class outside the table whose predict() method says where the rows go:
# it has no `newdata`, and its argument after the model is one of the names
# methods give the rows (tidymodels' new_data, ranger's data, kernlab's
# kpca x, glmnet's newx) and args.R never lets a caller set. Passed as
# newdata, the rows would fall into `...` unread or be an unused argument.
.formals_adapter <- function(model) {
  method <- tryCatch(bridge_predict_method(model), error = function(e) NULL)
  if (is.null(method) || !is.function(method$fn)) return(NULL)
  f <- names(formals(method$fn))
  if (length(f) < 2 || "newdata" %in% f || !(f[2] %in% names(.rows_arguments))) return(NULL)
  list(class = class(model)[1], arg = f[2], shape = .rows_arguments[[f[2]]])
}

.rows_arguments <- c(new_data = "frame", data = "frame", x = "frame", newx = "matrix")

.numeric_inputs <- function(vars, source) {
  if (!is.character(vars) || !length(vars)) return(list(columns = list(), source = source))
  cols <- rep(list(numeric(0)), length(vars))
  names(cols) <- vars
  list(columns = cols, source = source)
}

# A predictor through an adapter: function(model, newdata, args).
.adapted_predictor <- function(entry, model, generic) {
  vars <- names(bridge_inputs(model)$columns)
  fill <- if (is.null(entry$fill)) NULL else entry$fill(model)
  prepare <- if (is.null(entry$prepare)) NULL else entry$prepare(model)
  function(model, newdata, args) {
    if (!is.null(entry$defaults)) args <- entry$defaults(model, args)
    if (!is.null(prepare)) newdata <- prepare(newdata)
    for (v in names(fill)) {
      if (is.null(newdata[[v]])) newdata[[v]] <- fill[[v]][rep(NA_integer_, nrow(newdata))]
    }
    data <- switch(entry$shape,
      frame = newdata,
      vector = newdata[[vars[1]]],
      matrix = {
        m <- data.matrix(newdata[, vars, drop = FALSE])
        dimnames(m) <- list(NULL, vars)
        m
      })
    passed <- if (is.na(entry$arg)) list(quote(data)) else stats::setNames(list(quote(data)), entry$arg)
    out <- .predict(model, passed, args, generic)
    if (!is.null(entry$part)) out <- out[[entry$part]]
    if (!is.null(entry$post)) out <- entry$post(out, newdata)
    out
  }
}

# A result whose per-row matrices hang off it as attributes, as a list of
# the result itself ("prediction") and those matrices (flatten.R makes them
# fields "probabilities.setosa", ...); the result as it is without any.
.attached_rows <- function(out, n, parts) {
  found <- Filter(function(p) is.matrix(attr(out, p, exact = TRUE)), parts)
  if (!is.atomic(out) || !length(found)) return(out)
  value <- out
  attributes(value) <- NULL
  if (is.factor(out)) value <- factor(levels(out)[value], levels = levels(out))
  names(value) <- names(out)
  res <- list(prediction = .align_rows(value, n))
  for (p in found) res[[p]] <- .align_rows(attr(out, p, exact = TRUE), n)
  res
}

# A predictor for a model with matrix inputs (inputs.R's .matrix_inputs):
# the flat columns bound back into each matrix before the call; `fn` as it
# is for any other model.
.binding_matrices <- function(fn, model) {
  wide <- tryCatch(bridge_inputs(model)$matrix_inputs, error = function(e) NULL)
  if (!length(wide)) return(fn)
  function(model, newdata, args) fn(model, .bind_matrices(newdata, wide), args)
}

.bind_matrices <- function(newdata, wide) {
  for (v in names(wide)) {
    flat <- wide[[v]]
    if (!all(flat %in% names(newdata))) next
    m <- matrix(as.numeric(unlist(newdata[flat], use.names = FALSE)), nrow = nrow(newdata),
                dimnames = list(NULL, substring(flat, nchar(v) + 2L)))
    newdata[flat] <- NULL
    newdata[[v]] <- I(m)
  }
  newdata
}
