# SPDX-License-Identifier: Apache-2.0
#
# Reference values for tests/unit/test_vol_ttr.c: R TTR volatility() on the
# TTR sample data (../shared/data/ttrc.csv), written once and committed as
# ttrc_volatility_n20_N260.csv so that the C tests never need R.
#
# Call: n = 20 rows per window, N = 260 (TTR's annualization factor: sigma =
# sqrt(N * variance per row)), every other argument at its default
# (alpha = 1.34 for yang.zhang, mean0 = FALSE for close, ROC continuous).
# Values are printed with 17 significant digits so that the C side reads the
# same doubles R computed; NA where TTR has no value yet.
#
# Regenerate (Debian: apt-get install r-cran-ttr):
#   Rscript tests/data/ttr/make_reference.R ../shared/data/ttrc.csv \
#     tests/data/ttr/ttrc_volatility_n20_N260.csv

suppressPackageStartupMessages(library(TTR))

args <- commandArgs(trailingOnly = TRUE)
src <- if (length(args) >= 1) args[1] else "../shared/data/ttrc.csv"
dst <- if (length(args) >= 2) args[2] else "tests/data/ttr/ttrc_volatility_n20_N260.csv"

n <- 20
N <- 260

d <- read.csv(src, stringsAsFactors = FALSE)
ohlc <- as.matrix(d[, c("Open", "High", "Low", "Close")])

calcs <- c(close = "close", parkinson = "parkinson", garman_klass = "garman.klass",
           rogers_satchell = "rogers.satchell", yang_zhang = "yang.zhang")
out <- data.frame(row = seq_len(nrow(d)) - 1L, date = d$Date)
for (name in names(calcs)) {
  out[[name]] <- as.numeric(volatility(ohlc, n = n, calc = calcs[[name]], N = N))
}

fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
lines <- c(
  sprintf("# TTR %s volatility(n = %d, N = %d) on %s; R %s",
          as.character(packageVersion("TTR")), n, N, basename(src),
          paste(R.version$major, R.version$minor, sep = ".")),
  paste(names(out), collapse = ","))
body <- do.call(paste, c(list(out$row, out$date), lapply(names(calcs), function(k) fmt(out[[k]])),
                         sep = ","))
writeLines(c(lines, body), dst)
