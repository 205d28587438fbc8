# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker.

# ---- what a model's predict() method takes, for documents that describe it ----

# The predict() method R dispatches to for this model (S3, then S4), or NULL.
.predict_method <- function(model) {
  for (cls in c(class(model), "default")) {
    method <- utils::getS3method("predict", cls, optional = TRUE)
    if (!is.null(method)) return(method)
  }
  if (isS4(model)) {
    method <- tryCatch(methods::selectMethod("predict", class(model)), error = function(e) NULL)
    if (!is.null(method)) return(method)
  }
  NULL
}

# One formal argument described from its default, or NULL when the default
# says nothing a caller can send as data: a symbol or a call (na.action =
# na.pass, pred.var = res.var / weights) is R code, not a value.
#   c("link", "response")  -> a choice of strings (match.arg's convention)
#   c(0.1, 0.5, 0.9)       -> an array of numbers, that one by default
#   TRUE / 0.95 / 1L / "x" -> boolean / number / integer / string
#   NULL or no default     -> any JSON value
.describe_formal <- function(default) {
  if (missing(default) || is.null(default)) return(list(type = "any"))
  if (is.call(default) && identical(default[[1]], as.name("c"))) {
    parts <- as.list(default)[-1]
    scalar <- vapply(parts, function(p) is.atomic(p) && length(p) == 1 && !is.na(p), TRUE)
    if (!length(parts) || !all(scalar)) return(NULL)
    values <- unlist(parts)
    if (is.character(values)) {
      return(list(type = "string", enum = I(values), default = values[[1]]))
    }
    # c(0.1, 0.5, 0.9): a vector of numbers (or flags), that vector by default
    described <- .describe_formal(values[[1]])
    if (is.null(described)) return(NULL)
    return(list(type = described$type, array = TRUE, default = I(values)))
  }
  if (!is.atomic(default) || length(default) != 1) return(NULL)
  type <- switch(typeof(default), logical = "boolean", integer = "integer", double = "number",
                 character = "string", NULL)
  if (is.null(type)) return(NULL)
  if (is.na(default)) return(list(type = type))
  if (is.double(default) && !is.finite(default)) return(list(type = type))
  list(type = type, default = default)
}

# JSON: [{"name", "type", "enum"?, "array"?, "default"?}] for the arguments a caller
# may pass to this model's predict(): the method's formals without `...`,
# the ones the bridge sets itself (`reserved`) and those whose default is R
# code. A JSON string so that it crosses any boundary as it is.
bridge_predict_formals <- function(model, reserved) {
  method <- .predict_method(model)
  if (is.null(method)) return("[]")
  fmls <- formals(method)
  out <- list()
  for (name in setdiff(names(fmls), c("...", reserved))) {
    described <- if (identical(fmls[[name]], quote(expr = ))) list(type = "any")
                 else .describe_formal(fmls[[name]])
    if (!is.null(described)) out[[length(out) + 1]] <- c(list(name = name), described)
  }
  as.character(jsonlite::toJSON(out, auto_unbox = TRUE, null = "null", digits = NA))
}
