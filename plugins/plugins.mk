# Built by the store-plugin work; until then there is nothing to build.
plugins:
	@true
