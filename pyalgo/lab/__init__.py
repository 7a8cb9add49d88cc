"""The lab: every reproduction, experiment driver and benchmark of pyalgo, on one small harness
(`pyalgo.lab.harness`). `pyalgo.lab.<method>` holds a method's experiments (`reproduce`), trainers
and benchmark cases (`bench`). The lab imports the library (`pyalgo.<method>`); the library never
imports the lab.
"""
