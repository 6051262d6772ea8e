"""The unified credit record store. One module per entity family; import them here
so Django finds every model."""
