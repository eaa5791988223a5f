"""Built-in plugins (loaders, tools, model providers), written against the public contract."""
