"""A tiny application used to show how exearchive builds a runnable archive."""
