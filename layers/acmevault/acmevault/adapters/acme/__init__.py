"""The ACME client side: one directory's session over certbot's ``acme`` package."""
