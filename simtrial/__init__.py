"""simtrial: in-silico trials of HER2-targeted breast-cancer therapy, stratified by HER2 IHC."""

__version__ = "0.1.0"
