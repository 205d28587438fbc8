# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- guards around predict() ------------------------------------------------
#
# bridge_predict() (predict.R) runs one call. bridge_guarded_predict() adds
# what must hold for every call whatever the model:
# - an R error that goes away when the caller's own arguments are left out
#   was caused by them: it is the caller's ("argument"), not the model's;
# - an answer larger than the response limit is refused from its shape,
#   before a byte of it is converted for the HTTP side.

bridge_guarded_predict <- function(predictor, model, cols, classes, n, args, caller, max_bytes) {
  out <- bridge_predict(predictor, model, cols, classes, n, args)
  if (is.list(out) && !is.null(out$error) && length(caller) && !identical(out$kind, "input")) {
    again <- bridge_predict(predictor, model, cols, classes, n, args[setdiff(names(args), caller)])
    if (!(is.list(again) && !is.null(again$error))) {
      out$kind <- "argument"
      out$arguments <- caller
    }
  }
  if (is.finite(max_bytes) && max_bytes > 0 && (!is.list(out) || is.null(out$error))) {
    size <- bridge_answer_bytes(out)
    if (size > max_bytes) {
      cols_out <- if (is.list(out)) length(out$columns) else 1L
      return(list(error = "answer too large", kind = "too_large",
                  bytes = as.numeric(size), rows = as.numeric(n), columns = as.numeric(cols_out)))
    }
  }
  out
}

# About how many bytes the JSON answer takes, from types and lengths only:
# numbers ~ 20 characters, flags 6, strings their bytes and quotes, and for
# answers with named fields the key repeated on every row.
bridge_answer_bytes <- function(out) {
  vec_bytes <- function(v) {
    if (is.character(v)) return(sum(nchar(v, type = "bytes", allowNA = TRUE, keepNA = FALSE)) + 3 * length(v))
    if (is.logical(v)) return(6 * length(v))
    if (is.integer(v)) return(12 * length(v))
    22 * length(v)
  }
  if (!is.list(out)) return(vec_bytes(out))
  total <- 0
  for (name in names(out$columns)) {
    col <- out$columns[[name]]
    total <- total + vec_bytes(col) + (nchar(name, type = "bytes") + 4) * length(col)
  }
  total
}
