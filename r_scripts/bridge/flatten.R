# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

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
  predictor <- function(model, newdata, args) eval(as.call(c(list(fn, quote(model), quote(newdata)), args)))
  # args.R reads the caller's allow-list from predict_fn's own formals.
  attr(predictor, "predict_fn") <- fn
  predictor
}
