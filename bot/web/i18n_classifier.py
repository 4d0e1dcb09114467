"""The strings of the classifier page (`/queue/classifier`): how well the model does on this deployment.

Kept apart from `i18n.STRINGS` (which merges them) so each screen's words stay together.
"""

from __future__ import annotations

CLASSIFIER_STRINGS: dict[str, dict[str, str | dict[str, str]]] = {
    "fr": {
        "classifier.link": "Comment le classifieur s'en sort",
        "classifier.title": "Le classifieur sur vos messages",
        "classifier.model": "Modèle",
        "classifier.no_model": "Aucun modèle entraîné pour l'instant : la première commande qui en a besoin "
                               "l'entraîne.",
        "classifier.version": "Version",
        "classifier.band": "Zone de relecture",
        "classifier.band_value": "scores de {low} à {high} : un agent décide",
        "classifier.spot_share": "Contrôles au hasard",
        "classifier.spot_share_value": "{share} des décisions automatiques",
        "classifier.agreement": "Décisions des agents",
        "classifier.agreement_value": {
            "one": "{n} message décidé ; le score du modèle était du même côté pour {agreed} ({share})",
            "other": "{n} messages décidés ; le score du modèle était du même côté pour {agreed} ({share})",
        },
        "classifier.no_decisions": "Aucune décision pour l'instant.",
        "classifier.spot_title": "Contrôles au hasard des décisions automatiques",
        "classifier.spot_lead": "Tirés au hasard parmi les décisions que le modèle a prises seul : la part juste "
                                "mesure ses décisions automatiques sur vos messages. L'intervalle dit combien "
                                "la mesure est sûre.",
        "classifier.side": "Décision automatique",
        "classifier.checked": "Contrôlés",
        "classifier.right": "Justes",
        "classifier.precision": "Part juste",
        "classifier.interval": "Intervalle à 95 %",
        "classifier.unseen": {
            "one": "{n} message décidé depuis l'entraînement du modèle : l'entraîner avec les décisions le lui "
                   "apprendrait ; l'évaluer sur les décisions dit comment il s'en sort.",
            "other": "{n} messages décidés depuis l'entraînement du modèle : l'entraîner avec les décisions les lui "
                     "apprendrait ; l'évaluer sur les décisions dit comment il s'en sort.",
        },
    },
    "en": {
        "classifier.link": "How the classifier is doing",
        "classifier.title": "The classifier on your messages",
        "classifier.model": "Model",
        "classifier.no_model": "No model trained yet: the first command that needs one trains it.",
        "classifier.version": "Version",
        "classifier.band": "Review band",
        "classifier.band_value": "scores from {low} to {high}: an officer decides",
        "classifier.spot_share": "Spot checks",
        "classifier.spot_share_value": "{share} of the automatic decisions",
        "classifier.agreement": "Officers' decisions",
        "classifier.agreement_value": {
            "one": "{n} message decided; the model's score was on the same side for {agreed} ({share})",
            "other": "{n} messages decided; the model's score was on the same side for {agreed} ({share})",
        },
        "classifier.no_decisions": "No decision yet.",
        "classifier.spot_title": "Spot checks of the automatic decisions",
        "classifier.spot_lead": "Drawn at random among the decisions the model took alone: the share found right "
                                "measures its automatic decisions on your messages. The interval says how sure "
                                "that measure is.",
        "classifier.side": "Automatic decision",
        "classifier.checked": "Checked",
        "classifier.right": "Right",
        "classifier.precision": "Share right",
        "classifier.interval": "95 % interval",
        "classifier.unseen": {
            "one": "{n} message decided since the model was trained: training it with the decisions would teach "
                   "it; evaluating it on the decisions says how it does.",
            "other": "{n} messages decided since the model was trained: training it with the decisions would teach "
                     "them; evaluating it on the decisions says how it does.",
        },
    },
}
