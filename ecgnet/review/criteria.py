"""What each answer means: the criterion of every scored class a review form can ask about, with
its source, and how to measure the frontal QRS axis from leads I and aVF.

Adult criteria. Where the AHA/ACC/HRS recommendations for the standardization and interpretation
of the ECG give numbers (intraventricular conduction, Part III; QT and T waves, Part IV) they are
theirs; Part II lists the statements (sinus rhythm, axis deviation, premature complexes, ...)
without numbers, and those criteria are the conventional adult limits, said so as their source.
The criteria are printed on the reviewers' instruction pages; the text never singles out one
class: every asked class gets its line, in the order of the answer form's columns.
"""

SOURCES = {
    "Part II": "AHA/ACC/HRS recommendations, Part II: diagnostic statement list (Mason, Hancock, Gettes; "
    "Circulation 2007;115:1325-1332)",
    "Part III": "AHA/ACC/HRS recommendations, Part III: intraventricular conduction disturbances (Surawicz, "
    "Childers, Deal, Gettes; Circulation 2009;119:e235-e240)",
    "Part IV": "AHA/ACC/HRS recommendations, Part IV: the ST segment, T and U waves, and the QT interval "
    "(Rautaharju, Surawicz, Gettes; Circulation 2009;119:e241-e250)",
    "UDMI": "Fourth universal definition of myocardial infarction (Thygesen et al.; Circulation 2018;138:e618-e651)",
    "conventional": "conventional adult limits for a statement of the AHA/ACC/HRS list (Part II), which gives "
    "no numbers",
}

# class code (canonical, as in ecgnet.labels.CLASSES) -> (criterion, source key)
CRITERIA = {
    "270492004": ("PR interval > 200 ms, every P wave conducted.", "conventional"),
    "164889003": (
        "No organised atrial activity: no P waves, irregular fibrillatory (f) waves or a flat baseline; "
        "ventricular rhythm irregularly irregular.",
        "Part II",
    ),
    "164890007": (
        "Regular flutter (F) waves at about 240-340/min, sawtooth in II, III and aVF with no isoelectric "
        "baseline between them; conduction often 2:1.",
        "Part II",
    ),
    "426627000": ("Ventricular rate < 60 bpm, whatever the rhythm.", "conventional"),
    "713427006": (
        "QRS >= 120 ms; rsr', rsR' or rSR' in V1 or V2 (R' usually wider than the first R) or a wide notched R; "
        "S wave in I and V6 longer than the R wave or > 40 ms; R peak time > 50 ms in V1, normal in V5 and V6.",
        "Part III",
    ),
    "713426002": ("The QRS shape of right bundle branch block with a QRS of 110-119 ms.", "Part III"),
    "445118002": (
        "Frontal QRS axis -45 to -90 degrees; qR in aVL; R peak time in aVL >= 45 ms; QRS < 120 ms.",
        "Part III",
    ),
    "39732003": (
        "Frontal QRS axis from -30 to -90 degrees: lead II net negative (older practice counted 0 to -90: "
        "an axis from -1 to -29 degrees is not counted here).",
        "conventional",
    ),
    "164909002": (
        "QRS >= 120 ms; broad notched or slurred R in I, aVL, V5 and V6 (an RS shape in V5-V6 possible); no q "
        "in I, V5 and V6 (a narrow q in aVL allowed); R peak time > 60 ms in V5-V6; ST and T usually opposite "
        "to the QRS.",
        "Part III",
    ),
    "251146004": (
        "Peak-to-peak QRS amplitude < 0.5 mV (5 mm) in every limb lead (< 1.0 mV in every precordial lead is a "
        "second criterion).",
        "conventional",
    ),
    "698252002": ("QRS > 110 ms without the criteria of right or left bundle branch block.", "Part III"),
    "10370003": (
        "Pacemaker stimuli (spikes) driving the atria or the ventricles: a spike before each paced P wave or QRS "
        "(a paced QRS is wide).",
        "Part II",
    ),
    "284470004": (
        "A P wave earlier than the next expected sinus P and of another shape, usually followed by a narrow QRS.",
        "Part II",
    ),
    "427172004": (
        "A QRS earlier than expected, wide (usually >= 120 ms) and of abnormal shape, not preceded by a premature "
        "P wave; its T wave usually opposite to the QRS.",
        "Part II",
    ),
    "164947007": (
        "PR interval > 200 ms (the criterion of 1st degree AV block: answer both columns where both are asked).",
        "conventional",
    ),
    "111975006": ("Heart-rate corrected QT (QTc) >= 450 ms in men, >= 460 ms in women.", "Part IV"),
    "164917005": (
        "Pathological Q waves: in V2-V3 any Q > 20 ms or a QS complex; elsewhere Q >= 30 ms and >= 0.1 mV deep "
        "(or QS) in two leads of a contiguous group (I, aVL; II, III, aVF; V4-V6).",
        "UDMI",
    ),
    "47665007": ("Frontal QRS axis from +90 to +180 degrees (some use > +100).", "conventional"),
    "427393009": ("Sinus rhythm whose P-P intervals vary by more than 120 ms (or more than 10%).", "conventional"),
    "426177001": ("Sinus rhythm at a rate < 60 bpm.", "conventional"),
    "426783006": (
        "Sinus rhythm at 60-100 bpm: a P wave before every QRS, upright in I and II and inverted in aVR, with a "
        "constant PR interval.",
        "conventional",
    ),
    "427084000": ("Sinus rhythm at a rate > 100 bpm.", "conventional"),
    "164934002": (
        "T waves flat, low (< 10% of the R wave of the lead) or inverted in leads where they are normally upright "
        "(I, II, V3-V6).",
        "Part IV",
    ),
    "59931005": (
        "Negative T waves in leads where the T wave is normally upright (I, II, V3-V6); a negative T in aVR, and "
        "often in III and V1, is normal.",
        "Part IV",
    ),
}

AXIS_METHOD = (
    "Frontal QRS axis, in degrees from -180 to 180 (positive downward: I 0, II +60, aVF +90, III +120, aVL -30, "
    "aVR -150); write ? when it cannot be determined (e.g. every limb lead equiphasic).",
    "1. In lead I and in aVF take the net QRS deflection: the height of the R wave minus the depth of the Q or S "
    "wave, in mm (10 mm = 1 mV).",
    "2. The quadrant: I positive, aVF positive: 0 to +90. I positive, aVF negative: 0 to -90; then lead II: net "
    "positive, -30 or above; net negative, below -30 (left axis deviation). I negative, aVF positive: +90 to +180 "
    "(right axis deviation). Both negative: -90 to -180.",
    "3. The degrees: axis = atan2(1.15 x net aVF, net I) (aVF shows sqrt(3)/2 of the vertical component, hence "
    "1.15). Without a calculator, from the ratio net aVF / net I: 0.23 -> 15, 0.5 -> 30, 0.87 -> 45, 1.5 -> 60, "
    "3.2 -> 75 degrees (lead I positive, aVF negative: the same angles, negative). With lead I negative take the "
    "angle of the ratio's size: the axis is 180 minus it (aVF positive) or -180 plus it (aVF negative). Check: "
    "the limb lead closest to equiphasic lies at 90 degrees to the axis.",
)


def criterion(code: str) -> tuple[str, str]:
    """(criterion, source citation) of a scored class code."""
    text, source = CRITERIA[code]
    return text, SOURCES[source]
