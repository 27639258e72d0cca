"""The ``acmevault`` command for operators, and the local stack (Pebble, moto) for development and tests.

Not part of the Lambda layer: the layer ships the ``acmevault`` package only (runtime code), and
``tests/packaging`` checks that nothing from here is in it.
"""
