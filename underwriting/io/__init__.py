"""The file edge: the one data-folder reader, artifact and rule-set files, generated docs."""
