# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- flattening results ------------------------------------------------------

# Turns what predict() returned for n rows into list(kind, columns, info):
# kind "vector": columns holds one atomic vector, one entry per row;
# kind "table": columns holds named atomic vectors, one object per row;
# info holds the components that are not per row (df, residual.scale).
# Exactly one prediction per row, or list(error, kind = "shape") saying what
# R returned: a result that does not fit is never reshaped into a guess.
bridge_flatten <- function(result, n) {
  result <- .align_rows(result, n)
  out <- .flatten(result, n)
  lens <- lengths(out$columns)
  if (!length(lens) || any(lens != n) || isTRUE(out$misfit)) {
    return(list(error = .shape_message(result, n), kind = "shape"))
  }
  out$misfit <- NULL
  out
}

.flatten <- function(result, n) {
  if (is.data.frame(result)) {
    return(list(kind = "table", columns = lapply(as.list(result), .plain), info = list()))
  }
  if (is.matrix(result) || (is.array(result) && length(dim(result)) == 2)) {
    return(.flatten_matrix(result))
  }
  if (is.array(result) && length(dim(result)) == 3 && dim(result)[1] == n) {
    return(.flatten_matrix(.array_columns(result)))
  }
  if (is.list(result) && .one_per_row(result, n)) {
    # One element per row, each the row's fields (the older party's
    # type = "prob": a probability vector per row from ctree, a one-row
    # matrix per row from cforest, named by row): a row each.
    rows <- lapply(result, .row_fields)
    m <- do.call(rbind, lapply(rows, .plain))
    colnames(m) <- names(rows[[1]])
    return(.flatten_matrix(m))
  }
  if (is.list(result)) {
    return(.flatten_list(result, n))
  }
  list(kind = "vector", columns = list(.plain(result)), info = list())
}

# A list of n atomic vectors (or one-row matrices) of one length and type,
# named alike, unnamed or named by row (1..n, newdata's row names).
.one_per_row <- function(x, n) {
  if (length(x) != n || !n || is.data.frame(x)) return(FALSE)
  if (!is.null(names(x)) && !identical(names(x), as.character(seq_len(n)))) return(FALSE)
  x <- lapply(x, .row_fields)
  first <- x[[1]]
  if (!is.atomic(first) || !is.null(dim(first)) || !length(first)) return(FALSE)
  all(vapply(x, function(e) is.atomic(e) && is.null(dim(e)) && length(e) == length(first) &&
               identical(typeof(e), typeof(first)) && identical(names(e), names(first)), TRUE))
}

# A one-row matrix as the vector of its row, named by its columns.
.row_fields <- function(e) {
  if (is.matrix(e) && nrow(e) == 1L) return(stats::setNames(as.vector(e), colnames(e)))
  e
}

# A rows x a x b array (pls: rows x responses x components) as a matrix
# whose columns are named "<a>.<b>".
.array_columns <- function(x) {
  d <- dim(x)
  dn <- dimnames(x)
  a <- if (is.null(dn[[2]])) as.character(seq_len(d[2])) else dn[[2]]
  b <- if (is.null(dn[[3]])) as.character(seq_len(d[3])) else dn[[3]]
  matrix(x, nrow = d[1], dimnames = list(NULL, as.vector(outer(a, b, paste, sep = "."))))
}

# A predict() that drops rows with missing values (na.action = na.omit, as
# e1071's svm does) names the rows it kept after newdata's row names, 1..n:
# those names put each prediction back on its row, the dropped rows NA, as
# na.exclude would. Results without such names are left as they are.
.align_rows <- function(result, n) {
  keys <- if (is.data.frame(result) || length(dim(result)) == 2) rownames(result) else
    if (is.atomic(result) && is.null(dim(result))) names(result) else NULL
  if (is.null(keys) || !length(keys) || length(keys) >= n || anyDuplicated(keys) ||
      !all(keys %in% as.character(seq_len(n)))) {
    return(result)
  }
  idx <- match(as.character(seq_len(n)), keys)
  if (is.data.frame(result) || length(dim(result)) == 2) return(result[idx, , drop = FALSE])
  result[idx]
}

.shape_message <- function(x, n) {
  what <- if (is.data.frame(x)) {
    sprintf("a data frame of %d rows and %d columns", nrow(x), ncol(x))
  } else if (!is.null(dim(x))) {
    sprintf("a %s array of dimensions %s", typeof(x), paste(dim(x), collapse = " x "))
  } else if (is.list(x)) {
    parts <- if (is.null(names(x))) rep("?", length(x)) else names(x)
    sprintf("a list of %d parts (%s)", length(x),
            paste(sprintf("%s: length %d", parts, lengths(x)), collapse = ", "))
  } else {
    sprintf("a %s vector of length %d%s", class(x)[1], length(x),
            if (is.null(names(x))) "" else paste0(" named ", paste(head(names(x), 6), collapse = ", ")))
  }
  sprintf("predict() returned %s for %d input row%s: not one prediction per row",
          what, n, if (n == 1) "" else "s")
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
  misfit <- FALSE
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
    } else if (is.atomic(part) && is.null(dim(part))) {
      # Not one value per row: about the call (df, a knot vector), shown as such.
      info[[name]] <- .plain(part)
    } else if (!is.null(dim(part))) {
      # A table of another row count than the input's: nothing to put on rows.
      misfit <- TRUE
    }
  }
  list(kind = "table", columns = cols, info = info, misfit = misfit)
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
  predictor <- .with_state(function(model, newdata, args) eval(as.call(c(list(fn, quote(model), quote(newdata)), args))))
  # args.R reads the caller's allow-list from predict_fn's own formals.
  attr(predictor, "predict_fn") <- fn
  predictor
}
