"""Which requests ask for the same dataset, and which published dataset answers a request.

Requests are short, French or English, and wrapped in boilerplate ("pourriez-vous
publier en open data...", "please release ... as CSV"). Texts are reduced to
what names the dataset: accents, handles, links, stop words and boilerplate go,
plurals fold, and a small bilingual lexicon turns FR/EN synonyms into one
concept token ("vélo", "bike", "cycle" -> `_bike`), so "comptages vélo" and
"bike counters" meet. Two requests are the same when their remaining tokens
mostly match each other (a soft Dice coefficient: words also match across small
spelling differences and cognates by rapidfuzz ratio, "pharmacie" ~ "pharmacy";
concepts that qualify rather than name a dataset, such as opening hours, weigh
less), blended with rapidfuzz's token_set_ratio. A request matches a catalogue
dataset when the dataset's title and keywords cover the request's tokens and the
request covers the title's.

What it cannot do: paraphrases across languages whose words are neither in the
lexicon nor cognates ("radars de vitesse" / "speed cameras") score low, so
recall on unseen wording is well below the figures on the tuned split.

Pure functions over text; no database, no network. `python -m classifiers.matching`
prints precision and recall on the labelled sets in classifiers/data/.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Hashable, NamedTuple

from rapidfuzz import fuzz

DATA = Path(__file__).resolve().parent / "data"
DUPLICATE_PAIRS = DATA / "duplicate_pairs.jsonl"
CATALOGUE_MATCHES = DATA / "catalogue_matches.jsonl"

# Chosen on the "dev" split of the labelled sets, precision first so officers see few
# wrong suggestions; the "test" split was written afterwards and never tuned on.
# `python -m classifiers.matching` prints both: duplicates at 0.70, dev precision
# 0.96 / recall 0.90, test 0.92 / 0.72; catalogue at 0.65, dev 0.94 / 0.94, test 1.00 / 0.59.
DUPLICATE_THRESHOLD = 0.7
CATALOGUE_THRESHOLD = 0.65

# ---------------------------------------------------------------------------
# Normalisation

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_ACCENT = re.compile("[\u0300-\u036f]")


def fold(text: str) -> str:
    """Lower case, no accents, no links or handles, words separated by single spaces."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _ACCENT.sub("", unicodedata.normalize("NFKD", text.casefold()))
    text = text.replace("œ", "oe").replace("æ", "ae")
    return " ".join(_NON_WORD.sub(" ", text).split())


_IRREGULAR = {"buses": "bus", "busses": "bus", "children": "child", "people": "person", "yeux": "oeil",
              "women": "woman", "men": "man", "feet": "foot", "mice": "mouse"}
# Singular words ending in -us that must keep their s ("census" is not a plural, "menus" is).
_SINGULAR_US = frozenset(
    "bus autobus minibus trolleybus omnibus campus virus status census corpus terminus bonus focus plus nous vous "
    "tous sous surplus consensus jus abus refus".split()
)


def stem(word: str) -> str:
    """Fold plurals, FR and EN: "pistes" -> "piste", "jeux" -> "jeu", "locaux" -> "local", "libraries" -> "library"."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("eaux", "eux")):
        return word[:-1]
    if word.endswith("aux"):  # "locaux", "sociaux", "journaux" -> "local", "social", "journal"
        return word[:-3] + "al"
    if word.endswith("s") and not word.endswith(("ss", "is")) and word not in _SINGULAR_US:
        word = word[:-1]
    # "adresse(s)", "address(es)", "crèche(s)", "crash(es)" meet at "adress", "address", "crech", "crash".
    if word.endswith(("sse", "she", "che", "xe", "ze")):
        word = word[:-1]
    return word


# Concept -> FR and EN forms (folded, singular). Several concepts may share a
# form's words; longer forms win ("parc de stationnement" is parking, not a park).
LEXICON: dict[str, tuple[str, ...]] = {
    # subjects
    "canteen": ("cantine", "cantine scolaire", "restauration scolaire", "restaurant scolaire", "repas scolaire",
                "canteen", "school canteen", "school lunch", "school meal", "cafeteria", "lunch"),
    "bike": ("velo", "bicyclette", "cyclable", "cycliste", "cyclisme", "bike", "bicycle", "cycle", "cycling",
             "cyclist"),
    "bike_lane": ("piste cyclable", "bande cyclable", "amenagement cyclable", "voie cyclable", "reseau cyclable",
                  "bike lane", "bike path", "cycle lane", "cycle path", "cycleway", "cycling infrastructure",
                  "bike lane network", "cycle network", "bike network"),
    "bike_share": ("velo en libre service", "libre service", "velib", "vls", "velo partage", "bike share",
                   "bike sharing", "bikeshare", "shared bike", "cycle hire"),
    "tree": ("arbre", "arbre d alignement", "arbore", "patrimoine arbore", "tree", "street tree"),
    "felling": ("abattage", "abattu", "coupe", "felling", "felled", "cut down"),
    "pruning": ("elagage", "pruning"),
    "budget": ("budget", "budgetaire", "budget primitif", "budgetary", "budgeting"),
    "participatory": ("participatif", "participative", "participatory", "participation citoyenne"),
    "bus": ("bus", "autobus", "busway"),
    "stop": ("arret", "point d arret", "stop", "bus stop"),
    "punctuality": ("ponctualite", "retard", "regularite", "a l heure", "punctuality", "delay", "late",
                    "on time", "reliability"),
    "line": ("ligne", "line", "route"),
    "air": ("air", "qualite de l air", "pollution de l air", "pollution", "polluant", "no2", "pm10", "pm25",
            "ozone", "air quality", "air pollution", "pollutant"),
    "water": ("eau", "eau potable", "eau du robinet", "water", "tap water", "drinking water"),
    "parking": ("parking", "stationnement", "parc de stationnement", "parc relai", "place de parking",
                "car park", "parking space", "parking lot", "garage"),
    "disabled": ("pmr", "handicape", "mobilite reduite", "personne a mobilite reduite", "gig gic", "disabled",
                 "wheelchair", "handicap", "disability"),
    "fine": ("amende", "pv", "contravention", "verbalisation", "fine", "parking ticket", "penalty"),
    "toilet": ("toilette", "sanisette", "wc", "toilet", "restroom", "lavatory"),
    "shower": ("douche", "bain douche", "shower"),
    "housing": ("logement", "habitat", "parc de logement", "parc immobilier", "housing", "dwelling", "home",
                "housing stock"),
    "social_housing": ("logement social", "parc social", "hlm", "parc hlm", "bailleur social",
                       "social housing", "council housing", "public housing"),
    "rent": ("loyer", "encadrement des loyer", "loyer de reference", "rent", "rental", "rent control",
             "reference rent"),
    "vacant": ("vacant", "logement vacant", "vacancy", "empty home"),
    "waiting": ("en attente", "liste d attente", "waiting list", "pending"),
    "permit": ("permis de construire", "permis", "autorisation d urbanisme", "urbanisme", "declaration prealable",
               "building permit", "planning permission", "planning application", "permit"),
    "building": ("batiment", "edifice", "building"),
    "energy_certificate": ("dpe", "diagnostic de performance energetique", "energy performance certificate",
                           "epc"),
    "library": ("bibliotheque", "mediatheque", "library"),
    "loan": ("pret", "emprunt", "emprunte", "loan", "borrowed", "borrow", "checkout"),
    "book": ("livre", "ouvrage", "book"),
    "accident": ("accident", "accidentologie", "collision", "crash", "accidente"),
    "traffic": ("circulation", "trafic", "routier", "de la route", "traffic", "road", "road traffic"),
    "car": ("voiture", "vehicule", "automobile", "car", "vehicle"),
    "election": ("election", "electoral", "scrutin", "vote", "voting", "election municipale",
                 "municipal election"),
    "european_election": ("election europeenne", "europeenne", "european election", "european"),
    "council+councillor": ("composition du conseil municipal", "composition du conseil"),
    "tree+pruning": ("taille des arbre", "tree pruning"),
    "energy+consumption": ("energy use", "electricity use", "power use"),
    "water+consumption": ("water use",),
    "presidential_election": ("presidentielle", "presidential"),
    "legislative_election": ("legislative", "parliamentary election"),
    "polling_station": ("bureau de vote", "polling station", "polling place"),
    "result": ("resultat", "result", "outcome"),
    "noise": ("bruit", "sonore", "nuisance sonore", "pollution sonore", "acoustique", "lden", "noise",
              "noise pollution", "sound"),
    "complaint": ("plainte", "signalement", "anomalie", "anomaly", "dansmarue", "complaint", "report", "reported",
                  "problem"),
    "nightlife": ("bar", "vie nocturne", "nightlife", "night life"),
    "playground": ("aire de jeu", "jeu pour enfant", "playground", "play area"),
    "fountain": ("fontaine", "fontaine a boire", "point d eau", "point d eau potable", "fountain",
                 "water fountain", "drinking fountain", "drinking water fountain"),
    "ev_charging": ("borne de recharge", "point de recharge", "recharge", "recharge electrique", "irve",
                    "vehicule electrique", "voiture electrique", "electric vehicle", "electric car", "ev",
                    "charging", "charging point", "charging station", "charger", "ev charger"),
    "waste": ("dechet", "poubelle", "ordure", "ordure menagere", "waste", "garbage", "trash", "rubbish",
              "refuse", "bin"),
    "collection": ("collecte", "ramassage", "collection", "pickup", "pick up"),
    "glass": ("verre", "colonne a verre", "conteneur a verre", "glass", "bottle bank", "glass recycling bin"),
    "recycling_centre": ("dechetterie", "decheterie", "recyclerie", "recycling centre", "recycling center",
                         "household waste recycling centre"),
    "bulky": ("encombrant", "bulky", "bulky waste"),
    "wifi": ("wifi", "wi fi", "hotspot", "hot spot", "internet"),
    "pool": ("piscine", "swimming pool", "pool"),
    "museum": ("musee", "museum"),
    "attendance": ("frequentation", "visiteur", "voyageur", "entree", "attendance", "visitor", "visitor number",
                   "ridership", "passenger", "footfall"),
    "works": ("chantier", "travaux", "roadwork", "road work", "works", "construction site"),
    "pothole": ("nid de poule", "chaussee degradee", "pothole"),
    "procurement": ("marche public", "commande publique", "appel d offre", "contrat", "public procurement",
                    "procurement", "public contract", "contract", "tender"),
    "market": ("marche", "marche alimentaire", "marche decouvert", "food market", "market", "farmer market",
               "alimentaire"),
    "subsidy": ("subvention", "aide financiere", "subsidy", "grant", "funding"),
    "association": ("association", "asso", "non profit", "nonprofit", "ngo", "charity"),
    "council": ("conseil municipal", "conseil", "city council", "council"),
    "decision": ("deliberation", "decision", "compte rendu", "proces verbal", "arrete", "minutes",
                 "resolution"),
    "councillor": ("elu", "conseiller", "councillor", "councilor", "mandat", "mandate"),
    "aed": ("defibrillateur", "dae", "defibrillator", "aed"),
    "childcare": ("creche", "halte garderie", "garderie", "multi accueil", "assistante maternelle", "nursery",
                  "daycare", "day care", "childcare", "child care"),
    "school": ("ecole", "scolaire", "ecole maternelle", "maternelle", "college", "lycee", "school"),
    "primary": ("primaire", "elementaire", "primary", "elementary"),
    "enrolment": ("effectif", "eleve", "inscrit", "enrolment", "enrollment", "pupil", "student"),
    "catchment": ("carte scolaire", "secteur scolaire", "sectorisation", "catchment", "catchment area",
                  "school zone"),
    "menu": ("menu",),
    "quality": ("qualite", "quality"),
    "consumption": ("consommation", "consomme", "consumption"),
    "energy": ("energie", "energetique", "electricite", "electrique", "chauffage", "gaz", "energy",
               "electricity", "electric", "heating", "gas", "power"),
    "gym": ("gymnase", "gym", "gymnasium"),
    "park": ("parc", "jardin", "square", "espace vert", "park", "garden", "green space"),
    "cool_spot": ("ilot de fraicheur", "lieu frais", "espace frais", "cool island", "cool spot", "cool place",
                  "cooling centre"),
    "heat": ("canicule", "chaleur", "heatwave", "heat wave", "heat"),
    "lighting": ("eclairage public", "eclairage", "lampadaire", "luminaire", "street light", "streetlight",
                 "public lighting", "lighting"),
    "street_name": ("nom de rue", "nom de voie", "odonyme", "street name"),
    "address": ("adresse", "base adresse", "address"),
    "theft": ("vol", "theft", "stolen", "vole"),
    "pollen": ("pollen",),
    # facets
    "realtime": ("temps reel", "en direct", "direct", "live", "real time", "realtime", "gtfs rt"),
    "hours": ("horaire", "horaire d ouverture", "heure d ouverture", "jour et heure d ouverture", "ouverture",
              "horaire theorique", "gtfs", "timetable", "schedule", "opening hour", "opening time", "hour"),
    "availability": ("disponibilite", "disponible", "occupation", "taux d occupation", "place libre",
                     "availability", "available", "occupancy", "free space", "free spot"),
    "price": ("tarif", "prix", "cout", "tarification", "price", "fee", "cost", "tariff", "pricing"),
    "count": ("comptage", "compteur", "debit", "count", "counter", "counting"),
    "measure": ("mesure", "releve", "measurement", "measure", "reading"),
    "sensor": ("capteur", "sonde", "boucle", "sensor", "loop sensor", "station de mesure", "monitoring station"),
    "species": ("espece", "essence", "species"),
    "night": ("nuit", "nocturne", "night", "nighttime", "night time", "overnight"),
    "weekend": ("dimanche", "samedi", "week end", "weekend", "sunday", "saturday", "jour ferie", "public holiday",
                "bank holiday"),
    # more subjects, common in city catalogues
    "population": ("population", "demographie", "demographique", "recensement", "habitant", "demographic",
                   "demography", "census", "inhabitant", "resident population"),
    "birth": ("naissance", "nouveau ne", "birth", "newborn", "new born"),
    "death": ("deces", "mortalite", "death", "mortality"),
    "marriage": ("mariage", "pacs", "marriage", "wedding", "civil partnership"),
    "civil_registry": ("etat civil", "civil registry", "civil register", "vital statistic"),
    "first_name": ("prenom", "first name", "given name", "baby name", "forename"),
    "income": ("revenu", "salaire", "remuneration", "income", "salary", "salarie", "wage", "earning"),
    "poverty": ("pauvrete", "precarite", "poverty", "deprivation"),
    "employment": ("emploi", "chomage", "chomeur", "demandeur d emploi", "employment", "unemployment", "job",
                   "jobseeker"),
    "business": ("entreprise", "societe", "etablissement", "sirene", "business", "company", "firm"),
    "shop": ("commerce", "boutique", "magasin", "commercant", "shop", "store", "retail", "retailer",
             "shopkeeper", "trader"),
    "restaurant": ("restaurant", "cafe", "brasserie", "terrasse", "terrace"),
    "tourism": ("tourisme", "touristique", "touriste", "tourism", "tourist"),
    "hotel": ("hotel", "hebergement", "hotellerie", "accommodation", "lodging", "hostel"),
    "short_let": ("meuble de tourisme", "location de courte duree", "location saisonniere", "airbnb",
                  "short term rental", "short let", "holiday rental", "holiday let", "vacation rental"),
    "pharmacy": ("pharmacie", "officine", "pharmacy", "chemist", "drugstore"),
    "hospital": ("hopital", "clinique", "hospital", "clinic", "emergency room"),
    "doctor": ("medecin", "generaliste", "doctor", "physician", "gp"),
    "health": ("sante", "sanitaire", "health", "healthcare"),
    "crime": ("delinquance", "criminalite", "crime", "infraction", "cambriolage", "agression", "offence", "offense",
              "burglary", "assault"),
    "police": ("police", "gendarmerie", "commissariat", "policing", "police station"),
    "cctv": ("videosurveillance", "video protection", "videoprotection", "camera de surveillance", "cctv",
             "surveillance camera"),
    "fire_brigade": ("pompier", "sapeur pompier", "incendie", "firefighter", "fire brigade", "fire service", "fire"),
    "speed_camera": ("radar", "radar de vitesse", "radar automatique", "speed camera", "speed trap"),
    "speed": ("vitesse", "limitation de vitesse", "zone 30", "speed", "speed limit"),
    "traffic_light": ("feu tricolore", "feu de circulation", "feu rouge", "signalisation lumineuse", "traffic light",
                      "traffic signal", "red light"),
    "pedestrian": ("pieton", "pietonne", "passage pieton", "trottoir", "pedestrian", "crosswalk", "zebra crossing",
                   "sidewalk", "pavement", "walking"),
    "ring_road": ("peripherique", "rocade", "boulevard peripherique", "ring road", "beltway", "orbital"),
    "tram": ("tram", "tramway", "streetcar", "light rail"),
    "metro": ("metro", "subway", "underground", "rer"),
    "train": ("train", "gare", "ferroviaire", "sncf", "railway", "rail", "train station"),
    "taxi": ("taxi", "vtc", "cab", "taxi rank", "station de taxi", "cab rank"),
    "car_sharing": ("autopartage", "covoiturage", "car sharing", "carsharing", "car pool", "carpool", "ride sharing"),
    "scooter": ("trottinette", "trottinette electrique", "scooter", "e scooter", "escooter"),
    "motorbike": ("moto", "deux roue motorise", "scooter thermique", "motorbike", "motorcycle"),
    "bike_parking": ("arceau", "arceau velo", "stationnement velo", "parking velo", "abri velo", "bike rack",
                     "bike parking", "cycle parking", "bicycle parking", "cycle rack", "bike shelter"),
    "flood": ("inondation", "inondable", "crue", "ppri", "submersion", "flood", "flooding", "floodplain"),
    "risk": ("risque", "aleas", "alea", "risk", "hazard"),
    "natural_disaster": ("catastrophe naturelle", "natural disaster"),
    "weather": ("meteo", "temperature", "pluie", "precipitation", "pluviometrie", "weather", "rainfall", "rain"),
    "drought": ("secheresse", "drought"),
    "solar": ("solaire", "photovoltaique", "ensoleillement", "panneau solaire", "solar", "photovoltaic",
              "solar panel", "sunshine"),
    "roof": ("toiture", "toit", "roof", "rooftop"),
    "emission": ("emission", "co2", "gaz a effet de serre", "carbone", "bilan carbone", "greenhouse gas",
                 "carbon", "carbon footprint"),
    "biodiversity": ("biodiversite", "faune", "flore", "biodiversity", "wildlife", "fauna", "flora"),
    "compost": ("compost", "composteur", "biodechet", "compostage", "composting", "food waste", "organic waste"),
    "community_garden": ("jardin partage", "potager", "jardin familial", "community garden", "allotment"),
    "cadastre": ("cadastre", "parcelle", "cadastral", "land register", "land registry", "parcel", "plot"),
    "zoning": ("plan local d urbanisme", "plu", "plui", "zonage", "zoning", "land use", "local plan"),
    "real_estate": ("immobilier", "transaction immobiliere", "vente immobiliere", "dvf", "valeur fonciere",
                    "real estate", "property price", "house price", "property sale", "property transaction"),
    "event": ("evenement", "manifestation", "festival", "concert", "spectacle", "que faire", "event", "festival",
              "what s on", "show", "happening"),
    "agenda": ("agenda", "calendrier", "programme", "calendar", "programme", "program"),
    "cinema": ("cinema", "salle de cinema", "movie theater", "movie theatre", "film", "movie"),
    "theatre": ("theatre", "theater", "salle de spectacle", "venue"),
    "heritage": ("patrimoine", "monument historique", "monument", "heritage", "listed building", "historic"),
    "artwork": ("oeuvre d art", "art urbain", "street art", "fresque", "sculpture", "artwork", "public art",
                "mural", "art"),
    "culture": ("culture", "culturel", "cultural"),
    "filming": ("tournage", "lieu de tournage", "film shoot", "filming", "filming location"),
    "sport": ("sport", "sportif", "sportive", "sporting", "athletic"),
    "sports_facility": ("equipement sportif", "installation sportive", "stade", "terrain de sport", "terrain",
                        "complexe sportif", "salle de sport", "sports facility", "sport facility", "stadium",
                        "pitch", "sports ground", "playing field", "sports hall"),
    "club": ("club", "club sportif", "sports club"),
    "tennis": ("tennis", "court de tennis", "tennis court"),
    "university": ("universite", "enseignement superieur", "etudiant", "university", "higher education", "campus"),
    "after_school": ("periscolaire", "centre de loisirs", "after school", "holiday club"),
    "exam": ("baccalaureat", "bac", "brevet", "examen", "exam", "exam result", "graduation"),
    "homeless": ("sans abri", "sdf", "sans domicile", "hebergement d urgence", "maraude", "homeless",
                 "homelessness", "rough sleeper", "emergency shelter", "shelter"),
    "elderly": ("senior", "personne agee", "ehpad", "maison de retraite", "retraite", "elderly", "older people",
                "care home", "nursing home", "retirement home", "pensioner"),
    "welfare": ("aide sociale", "rsa", "ccas", "action sociale", "social assistance", "welfare", "benefit"),
    "staff": ("agent", "fonctionnaire", "personnel", "effectif des agent", "staff", "employee", "civil servant",
              "workforce"),
    "expenses": ("frais", "note de frais", "indemnite", "depense", "expense", "expenditure", "spending",
                 "allowance"),
    "revenue": ("recette", "revenue", "receipt"),
    "debt": ("dette", "emprunt bancaire", "endettement", "debt", "borrowing"),
    "tax": ("impot", "taxe", "fiscalite", "taxe fonciere", "taxe d habitation", "tax", "taxation", "property tax",
            "council tax", "business rate"),
    "accounts": ("compte administratif", "compte de gestion", "bilan", "comptabilite", "administrative account",
                 "financial statement", "annual account", "accounting"),
    "supplier": ("fournisseur", "titulaire", "prestataire", "supplier", "contractor", "vendor", "provider"),
    "payment_delay": ("delai de paiement", "payment delay", "payment time", "late payment"),
    "meeting": ("seance", "reunion", "session", "meeting", "sitting"),
    "video": ("video", "retransmission", "enregistrement", "replay", "recording", "livestream", "footage"),
    "dumping": ("depot sauvage", "depot d ordure", "decharge sauvage", "illegal dumping", "fly tipping",
                "flytipping", "dumped rubbish"),
    "cleaning": ("proprete", "nettoyage", "nettoiement", "balayage", "street cleaning", "cleanliness", "cleaning",
                 "sweeping"),
    "graffiti": ("graffiti", "tag", "affichage sauvage"),
    "dog": ("chien", "canin", "espace canin", "crotte", "dog", "canine", "dog park"),
    "rat": ("rat", "rongeur", "nuisible", "rodent", "pest"),
    "leak": ("fuite", "leak", "leakage"),
    "sewer": ("assainissement", "egout", "eau usee", "sewer", "sewage", "wastewater", "sanitation"),
    "bathing": ("baignade", "eau de baignade", "bathing", "bathing water", "swimming spot"),
    "lamp": ("ampoule", "lampe", "bulb", "lamp", "lamp post", "street lamp"),
    "power": ("puissance", "watt", "wattage", "kw", "kilowatt"),
    "plug": ("prise", "connecteur", "plug", "socket", "connector"),
    "level": ("niveau", "level", "concentration", "volume"),
    "air_conditioning": ("climatise", "climatisation", "clim", "air conditioned", "air conditioning"),
    "accessibility": ("accessible", "accessibilite", "fauteuil roulant", "accessibility", "step free"),
    "turnout": ("participation", "abstention", "taux de participation", "turnout", "abstention rate"),
    "booking": ("reservation", "creneau", "booking", "reservation", "slot", "time slot"),
    "licence": ("licence", "license", "autorisation de stationnement", "permit holder"),
    "housing_built": ("logement construit", "construction de logement", "mise en chantier", "housing completion",
                      "new home", "housing start", "new build"),
    "cemetery": ("cimetiere", "funeraire", "concession funeraire", "columbarium", "cemetery", "graveyard",
                 "burial", "funeral"),
    "grave_plot": ("concession", "emplacement funeraire", "grave", "burial plot"),
}

# Words that say nothing about which dataset: function words, politeness, request
# boilerplate, formats, granularity and place words (folded, singular).
_STOP = """
    a afin ai aie ait au aussi autre autres aux avec avoir avez ayant bien c ca ce ceci cela celle celui ces cet
    cette chaque chez ci comme comment d dans de dela depuis des deja donc dont du elle elles en encore est et etc
    etre eu faire fait faut il ils j je jusqu l la le les leur leurs lui m ma mais me meme mes moi mon n ne ni nos
    notre nous o on ont ou par pas peu peut plus pour pourquoi qu quand que quel quelle quelles quels quelque qui
    quoi sa sans se sera serait ses si sinon son sont sous sur t ta te tes toi ton tous tout toute toutes tres tu
    un une vos votre vous y leurs
    bonjour bonsoir svp stp merci salut coucou hello hi hey thank thanks thx please pls plz cheers
    the an of to in on at for by from and or is are be been being it its this that these those there here we you
    i me my our your their they them can could would should will shall may might do does did have has had get got
    with what which how who when why where whether also too very just more most much many some any all every each
    per into about like love great nice good idea want need see
    pourriez pourrait pouvez pourrais possible serait existe avoir acces publier publiez publie publication
    publish published publishing release released open opened ouvrir ouvrez ouvert ouverte ouverts ouvertes
    mettre mettez mis disposition partager partagez diffuser diffusez fournir fournissez donner donnez rendre
    trouver trouve find found share provide make made put
    donnee donnees data dataset datasets database jeu base fichier file csv json geojson xml xlsx xls excel api
    format opendata feed flux export download telecharger telechargement machine readable lisible
    information informations info infos detail details detaille detailles detailed stat stats statistique
    statistiques statistic statistics nombre number numbers taux rate
    liste list listing inventaire inventory ensemble register registre referentiel repertoire
    carte cartes map maps mapping localisation location locations locate located emplacement emplacements
    position positions gps coordonnees coordinates geolocalisation geolocated latitude longitude situe
    ville city town commune municipalite municipal municipaux municipales municipale metropole mairie
    collectivite quartier neighbourhood neighborhood district arrondissement area zone secteur region territoire
    local rue street voirie avenue public publique publics publiques gratuit gratuits gratuite free
    jour jours day days daily quotidien quotidienne semaine week weekly hebdo hebdomadaire mois month monthly
    mensuel mensuelle an annee year yearly annual annuel annuelle hourly current courant actuel actuelle
    today aujourd hui maintenant now recent dernier last latest
    urgent urgence manque missing request demande demandes demander ask asking souhaite aimerais voudrais dispo
    enfant enfants child children kid kids equipement equipements equipment
    accorde accordee verse versee attribue attribuee delivre delivres delivree issued awarded granted paid
    montant montants amount amounts declare declares declaree declared
    different general full complet complete whole entire place places space spaces spot spots type
    petit petite small little grand grande big large venir prevu prevus planned upcoming future ongoing
    since pendant during lors cas around depose deposes filed lodged submitted refuse refused accorde passe passes
    given donne donnes ensemble overall totale total sur_place present presents
    as so if but not no non yes oui via etc thing things chose choses
    broken down breakdown ventilation ventile repartition reparti combien how many impliquant involving
    concernant concerning regarding about sujet submitted soumis resident residents habitant habitants citoyen
    citizen citizens usager usagers user users application applications borne bornes espace espaces
    """
STOP_WORDS = frozenset(stem(w) for w in _STOP.split())

# Boilerplate phrases removed before anything else (folded).
BOILERPLATE = (
    "open data", "donnees ouvertes", "donnee ouverte", "jeu de donnee", "jeux de donnee", "data set",
    "mettre a disposition", "mise a disposition", "rendre disponible", "make available", "made available",
    "make it available", "as open data", "en open data", "en donnees ouvertes", "format ouvert", "open format",
    "machine readable", "serait il possible", "est il possible", "est ce que", "y a t il", "il y a", "is there",
    "are there", "would be great", "would love", "it would be", "ce serait", "ca serait", "s il vous plait",
    "s il te plait", "thank you", "pourriez vous", "pouvez vous", "could you", "can you", "can we", "could we",
    "where can i find", "ou trouver", "open up", "heure par heure", "ligne par ligne", "mois par mois",
    "jour par jour", "ecole par ecole", "route by route", "per hour", "par heure", "per day", "par jour",
    "per month", "par mois", "each month", "for each", "pour chaque", "en cours", "on street",
)


class _Lexicon:
    """The concept lexicon compiled into one regex over folded, stemmed text."""

    def __init__(self, lexicon: dict[str, tuple[str, ...]]):
        forms: dict[str, str] = {}
        for concept, phrases in lexicon.items():
            for phrase in phrases:
                key = " ".join(stem(w) for w in fold(phrase).split())
                forms.setdefault(key, concept)
        self.forms = forms
        alternatives = sorted(forms, key=lambda f: (-len(f.split()), -len(f)))
        self.pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, alternatives)) + r")(?![a-z0-9])")

    def replace(self, text: str) -> str:
        return self.pattern.sub(lambda m: " " + " ".join("_" + c for c in self.forms[m.group()].split("+")) + " ", text)


_BOILERPLATE = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(re.escape(" ".join(stem(w) for w in p.split())) for p in sorted(BOILERPLATE, key=len, reverse=True))
    + r")(?![a-z0-9])"
)


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    return _Lexicon(LEXICON)


@lru_cache(maxsize=20000)
def tokens(text: str) -> tuple[str, ...]:
    """What names the dataset: concept tokens ("_bike") and remaining content words, in order, once each."""
    # French elisions fold to single letters ("l'air" -> "l air"), dropped below.
    stemmed = " ".join(stem(w) for w in fold(text).split())
    stemmed = _BOILERPLATE.sub(" ", stemmed)
    stemmed = _lexicon().replace(stemmed)
    seen: dict[str, None] = {}
    for word in stemmed.split():
        if word.startswith("_") or (word not in STOP_WORDS and (len(word) > 1) and not _is_noise_number(word)):
            seen.setdefault(word, None)
    return tuple(seen)


def _is_noise_number(word: str) -> bool:
    """Numbers other than years ("2024") say nothing about the dataset."""
    return word.isdigit() and not (len(word) == 4 and word[:2] in ("19", "20"))


def normalise(text: str) -> str:
    """`tokens` as one string, e.g. for display or for rapidfuzz."""
    return " ".join(tokens(text))


# ---------------------------------------------------------------------------
# Similarity

WORD_MATCH = 77  # rapidfuzz ratio from which two plain words count as one (typos, cognates: "pharmacie", "pharmacy")
DICE_WEIGHT = 0.75  # the rest is token_set_ratio


def _matches(word: str, others: Sequence[str]) -> bool:
    if word in others:
        return True
    if word.startswith("_") or len(word) < 5:
        return False  # concepts match exactly; short words too ("bus" is not "bu")
    return any(
        not other.startswith("_") and len(other) >= 5 and fuzz.ratio(word, other) >= WORD_MATCH for other in others
    )


# Concepts that qualify a dataset rather than name it: sharing "opening hours" does
# not make a library and a museum the same, so they weigh less than subjects.
FACETS = frozenset(
    "_" + c for c in (
        "realtime hours availability price count measure sensor address result attendance level quality "
        "consumption accessibility species night weekend menu power plug"
    ).split()
)
FACET_WEIGHT = 0.75


def _weight(token: str) -> float:
    return FACET_WEIGHT if token in FACETS else 1.0


def soft_dice(a: Sequence[str], b: Sequence[str]) -> float:
    """Weighted share of the tokens of both sides that find a match on the other side."""
    if not a or not b:
        return 0.0
    matched = sum(_weight(w) for w in a if _matches(w, b)) + sum(_weight(w) for w in b if _matches(w, a))
    total = sum(map(_weight, a)) + sum(map(_weight, b))
    return matched / total


def similarity(a: str, b: str) -> float:
    """How likely two requests ask for the same dataset, in [0, 1]; symmetric."""
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return 0.0
    dice = soft_dice(ta, tb)
    # token_set_ratio scores a text contained in a longer one at 100 ("bus" in "bus
    # stops"), so it counts only as far as the two sides agree token by token.
    ratio = fuzz.token_set_ratio(" ".join(ta), " ".join(tb)) / 100
    return round(DICE_WEIGHT * dice + (1 - DICE_WEIGHT) * ratio * min(1.0, dice * 2), 4)


def best_matches(
    text: str,
    candidates: Iterable[tuple[Hashable, str]],
    *,
    threshold: float = DUPLICATE_THRESHOLD,
    limit: int = 5,
) -> list[tuple[Hashable, float]]:
    """The candidates (id, text) most similar to `text`, best first, at or above `threshold`."""
    scored = [(cid, similarity(text, ctext)) for cid, ctext in candidates]
    kept = [(cid, score) for cid, score in scored if score >= threshold]
    kept.sort(key=lambda pair: -pair[1])
    return kept[:limit]


# ---------------------------------------------------------------------------
# Candidate lookup: which stored texts are worth scoring at all

FUZZY_KEY = 4  # letters of a plain word's start and end that are indexed too


def index_terms(text: str) -> frozenset[str]:
    """The keys under which a text is indexed, so candidates are found without a scan.

    Two texts that `similarity` or `catalogue_score` can put above their
    thresholds share at least one matched token; a token matches exactly
    (concepts, short words) or, for plain words of five letters or more, by
    rapidfuzz ratio, so those words are also indexed by their first and last
    letters ("^phar", "rmacy$"), which near spellings share.
    """
    keys = set()
    for word in tokens(text):
        keys.add(word)
        if not word.startswith("_") and len(word) >= 5:
            keys.add("^" + word[:FUZZY_KEY])
            keys.add(word[-FUZZY_KEY:] + "$")
    return frozenset(keys)


def dataset_index_terms(dataset: DatasetText) -> frozenset[str]:
    """A catalogue dataset's keys: those of its title, keywords and the part of its description that is scored."""
    return index_terms(dataset.title) | index_terms(dataset.keywords) | index_terms(dataset.description[:2000])


# ---------------------------------------------------------------------------
# Catalogue matching


class DatasetText(NamedTuple):
    """The words of a catalogue dataset that matching reads."""

    title: str
    keywords: str = ""
    description: str = ""


DESCRIPTION_WEIGHT = 0.5  # a request word found only in the description counts half


def catalogue_score(request: str, dataset: DatasetText) -> float:
    """How likely `dataset` is what `request` asks for, in [0, 1].

    Mostly: how much of the request the dataset's title and keywords cover (a
    word found only in the long description counts half); then how much of the
    title the request covers, so "Budget participatif" does not answer "budget".
    """
    wanted = tokens(request)
    title = tokens(dataset.title)
    if not wanted or not title:
        return 0.0
    head = title + tokens(dataset.keywords)
    body = tokens(dataset.description[:2000])
    covered = sum(1.0 if _matches(w, head) else DESCRIPTION_WEIGHT if _matches(w, body) else 0.0 for w in wanted)
    coverage = covered / len(wanted)
    title_covered = sum(_matches(w, wanted) for w in title) / len(title)
    return round(0.6 * coverage + 0.4 * title_covered, 4)


def best_datasets(
    request: str,
    datasets: Iterable[tuple[Hashable, DatasetText]],
    *,
    threshold: float = CATALOGUE_THRESHOLD,
    limit: int = 3,
) -> list[tuple[Hashable, float]]:
    """The catalogue datasets (id, DatasetText) that may answer `request`, best first."""
    wanted = set(tokens(request))
    if not wanted:
        return []
    scored = []
    for did, dataset in datasets:
        score = catalogue_score(request, dataset)
        if score >= threshold:
            scored.append((did, score))
    scored.sort(key=lambda pair: -pair[1])
    return scored[:limit]


# ---------------------------------------------------------------------------
# Scope rules


def keyword_hits(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords found in `text` as whole words or phrases, ignoring case, accents and plurals."""
    words = f" {' '.join(stem(w) for w in fold(text).split())} "
    hits = []
    for keyword in keywords:
        folded = " ".join(stem(w) for w in fold(keyword).split())
        if folded and f" {folded} " in words:
            hits.append(keyword)
    return hits


# ---------------------------------------------------------------------------
# Evaluation on the labelled sets


@dataclass(frozen=True)
class Metrics:
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    n: int

    def line(self) -> str:
        return (
            f"threshold {self.threshold:.2f}: precision {self.precision:.3f}, recall {self.recall:.3f}, "
            f"F1 {self.f1:.3f} (tp {self.true_positives}, fp {self.false_positives}, "
            f"fn {self.false_negatives}, n {self.n})"
        )


def metrics(scores: Sequence[float], gold: Sequence[bool], threshold: float) -> Metrics:
    """Precision and recall of "score >= threshold" against the gold labels."""
    if len(scores) != len(gold):
        raise ValueError("scores and gold must have the same length")
    tp = sum(s >= threshold and g for s, g in zip(scores, gold))
    fp = sum(s >= threshold and not g for s, g in zip(scores, gold))
    fn = sum(s < threshold and g for s, g in zip(scores, gold))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(threshold, precision, recall, f1, tp, fp, fn, len(gold))


def choose_threshold(scores: Sequence[float], gold: Sequence[bool], *, min_precision: float = 0.9) -> Metrics:
    """The lowest threshold with the best recall among those reaching `min_precision`."""
    candidates = sorted({round(s, 2) for s in scores} | {round(t / 100, 2) for t in range(30, 96, 5)})
    best = None
    for threshold in candidates:
        m = metrics(scores, gold, threshold)
        if m.precision >= min_precision and (best is None or m.recall > best.recall):
            best = m
    return best or metrics(scores, gold, 1.01)


def read_pairs(path: Path | str, split: str | None = None) -> list[dict]:
    """Labelled pairs of a JSONL file; `split` keeps only "dev" (tuned on) or "test" (held out)."""
    with Path(path).open(encoding="utf-8") as lines:
        pairs = [json.loads(line) for line in lines if line.strip()]
    return [p for p in pairs if split is None or p.get("split", "dev") == split]


def duplicate_scores(
    path: Path | str = DUPLICATE_PAIRS, split: str | None = None
) -> tuple[list[float], list[bool], list[dict]]:
    pairs = read_pairs(path, split)
    return [similarity(p["a"], p["b"]) for p in pairs], [bool(p["same"]) for p in pairs], pairs


def catalogue_scores(
    path: Path | str = CATALOGUE_MATCHES, split: str | None = None
) -> tuple[list[float], list[bool], list[dict]]:
    pairs = read_pairs(path, split)
    scores = []
    for p in pairs:
        d = p["dataset"]
        keywords = " ".join(d.get("keywords") or [])
        scores.append(catalogue_score(p["request"], DatasetText(d["title"], keywords, d.get("description", ""))))
    return scores, [bool(p["match"]) for p in pairs], pairs


def duplicate_metrics(
    threshold: float = DUPLICATE_THRESHOLD, *, split: str | None = None, path: Path | str = DUPLICATE_PAIRS
) -> Metrics:
    """Precision and recall of duplicate suggestions on the labelled pairs."""
    scores, gold, _ = duplicate_scores(path, split)
    return metrics(scores, gold, threshold)


def catalogue_metrics(
    threshold: float = CATALOGUE_THRESHOLD, *, split: str | None = None, path: Path | str = CATALOGUE_MATCHES
) -> Metrics:
    """Precision and recall of "already available" suggestions on the labelled pairs."""
    scores, gold, _ = catalogue_scores(path, split)
    return metrics(scores, gold, threshold)


def _report(name: str, score_fn, threshold: float, text_of, verbose: bool) -> None:
    for split in ("dev", "test", None):
        scores, gold, pairs = score_fn(split=split)
        label = {"dev": "dev (tuned on)", "test": "test (held out)", None: "all"}[split]
        print(f"{name}, {label}: {len(pairs)} labelled pairs ({sum(gold)} positive)")
        print("  in use      " + metrics(scores, gold, threshold).line())
        if split == "dev":
            print("  most recall at precision >= 0.9: " + choose_threshold(scores, gold).line())
        if verbose and split is not None:
            for score, g, pair in sorted(zip(scores, gold, pairs), key=lambda x: -x[0]):
                if (score >= threshold) != g:
                    print(f"    {'FP' if not g else 'FN'} {score:.3f}  {text_of(pair)}")


def main(argv: Sequence[str] = ()) -> int:
    verbose = "-v" in argv or "--verbose" in argv
    _report("duplicates", duplicate_scores, DUPLICATE_THRESHOLD,
            lambda p: f"{p['a']!r} ~ {p['b']!r}  [{p.get('note', '')}]", verbose)
    _report("catalogue", catalogue_scores, CATALOGUE_THRESHOLD,
            lambda p: f"{p['request']!r} -> {p['dataset']['title']!r}  [{p.get('note', '')}]", verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
