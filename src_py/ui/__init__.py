"""The page's DOM: the only package that touches the document and the browser's dialogs."""
