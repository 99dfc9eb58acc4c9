"""Run-time tuning knobs, in one place.

Each constant says in one line what it does. The measurements that chose
them are in ``docs/design.md`` (the anchor after each). Code reads them as
``tuning.NAME`` at call time, so an experiment may set one for a run.
Per-run settings of the live loop are :class:`maskhog.live.LiveConfig` fields
(command-line options); thresholds learned in training travel in the model files.
"""

# --- Finding faces ------------------------------------------------------------------------

#: Images whose longer side exceeds this are shrunk before detection (boxes are scaled back):
#: a 20000x20000 photo would otherwise take gigabytes and minutes (#max-side).
MAX_SIDE = 4096
#: The score from which our fHOG templates alone call a box a face (#detector-fhog).
TEMPLATE_THRESHOLD = -0.175
#: Added to dlib's pose templates' scores, so that dlib's own operating point (0) falls on
#: ours: alone, and for crops without colour, they keep to their own threshold (#detector-pose).
POSE_SHIFT = -0.175
#: A proposal network box overlapping a template box at this IoU is the same face, left out (#detector-pnet).
NETWORK_IOU = 0.5
#: The template score given to the network's boxes: the lowest the verifier learned to look at (#detector-pnet).
NETWORK_SCORE = -1.4
#: Each level of the proposal network's image pyramid is this times the one before (MTCNN's 0.709).
PYRAMID_FACTOR = 0.7
#: Proposal network boxes overlapping this much are one, within a level and across levels.
PROPOSAL_NMS_IOU = 0.5
#: The CNN verifier looks at a crop's mirror image only when its score is this close to the
#: threshold: farther, the mirror could turn no verdict (#verifier-score).
MIRROR_BAND = 4.0
#: Two boxes are one face at this IoU ...
DUPLICATE_IOU = 0.4
#: ... or when their intersection covers this share of the smaller box (#merge-order).
DUPLICATE_COVER = 0.7

# --- The later looks at a still image in which no face was found (#looks) ----------------

#: ``(side, border)``: shrink the image to ``side`` px on its longer side inside a gray border
#: of ``border`` times that side, in turn until a face is found (close-ups fill the window).
LOOKS = ((400, 0.4), (200, 0.6), (150, 0.8))
#: ``(under, to)``: then search an image whose longer side is under ``under`` px enlarged to
#: ``to`` px (a thumbnail's face is smaller than the detector's window).
ENLARGE = (200, 300)
#: Then make all of them again on the image mirrored left to right (templates score a face
#: and its mirror image differently).
MIRROR = True
#: In those looks, the CNN face verifier's face probability a detection needs (#looks-face-probability).
LOOKS_FACE_PROBABILITY = 0.5

# --- Classifying faces --------------------------------------------------------------------

#: How far (0..1 scale) a crop's mean chroma may stray from neutral and still count as
#: colourless: gray JPEGs and infrared frames stay within a level or two of 128.
NEUTRAL_TOLERANCE = 3 / 255
#: Crops per CNN forward pass: small batches keep each layer's output in the cache (#cnn-batch).
CNN_BATCH = 64
#: ``live``'s cascade threshold: every colour face goes to the CNN, which judges a face only
#: when its track appears, moves or is rechecked (#live-cascade-threshold).
LIVE_CASCADE_THRESHOLD = 1.0
