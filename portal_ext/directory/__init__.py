"""The portal's people and departments, as the extension keeps them."""
