"""ECG measurements: heart rate, RR variability, PR, QRS, QT and QTc, P/QRS/T axes and QRS
voltages, measured as 12-lead machines measure them, on NumPy only (the driver can compute
them for every record it classifies).

`record.measure(signal, rate, missing) -> Measurement` is the core; `folder` measures every
record of a folder (the rows of `ecgnet measure`'s measurements.csv); `criteria` turns a row
into rule verdicts for the classes a measurement defines.
"""
