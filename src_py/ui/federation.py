"""DOM of the federation controls: Send Delta, Apply Aggregate, federation status."""
from ui.dom import element


def _when(iso):
    return "never" if not iso else iso[:19].replace("T", " ") + " UTC"


def _privacy_sentence(privacy):
    """What the federation's differential privacy means, with epsilon spent / target."""
    if not privacy or (privacy.mode != "client" and privacy.mode != "example"):
        return ("No differential privacy: the published head may still reveal something about "
                + "one member's examples.")
    spent = ("epsilon spent " + privacy.epsilon.toFixed(2) + " of "
             + privacy.target_epsilon.toFixed(2) + " (delta " + str(privacy.delta) + ", "
             + str(privacy.rounds) + " round" + ("" if privacy.rounds == 1 else "s")
             + "; smaller is more private).")
    if privacy.mode == "example" and privacy.noise == "local":
        text = ("Differential privacy (example level): this browser adds all the noise to its "
                + "class sums before they leave it, so that what it sends, and the published "
                + "head, change little whether or not any one of your examples was used; "
                + spent)
    elif privacy.mode == "example":
        text = ("Differential privacy (example level): this browser adds its share of the "
                + "noise to its class sums before masking them; the sum the server unmasks "
                + "carries all of it, so that the published head changes little whether or "
                + "not any one of your examples was used; " + spent
                + " What this browser sends would be at epsilon "
                + privacy.member_epsilon.toFixed(1) + " on its own, if its masking failed.")
    if privacy.mode == "example":
        if privacy.exhausted:
            text += " The private head is published: this mode allows no further rounds."
        return text
    text = ("Differential privacy (client level): the server adds noise to the sum, so that "
            + "the published heads change little whether or not you took part; " + spent)
    if privacy.exhausted:
        text += " The privacy budget is spent: no more rounds will be published."
    return text


def _what_left(sent):
    """What this page's secure contribution was, in words."""
    if sent["contribution"] == "example_sums":
        return ("its class sums with noise added here, masked, from " + str(sent["examples"])
                + " examples")
    if sent["contribution"] == "client_sums":
        return ("its class sums scaled to length 1, masked (the server adds the noise to the "
                + "sum), from " + str(sent["examples"]) + " examples")
    return ("its masked change of norm " + sent["norm"].toFixed(3)
            + (", clipped to the server's bound" if sent["clipped"] else "") + ", from "
            + str(sent["examples"]) + " examples")


class FederationPanel:
    def __init__(self):
        self.send_button = element("send-delta")
        self.apply_button = element("apply-aggregate")
        self.status = element("fl-status")
        self.sent = element("fl-sent")
        self.privacy = element("fl-privacy")

    def enable(self, on_send, on_apply):
        self.send_button.addEventListener("click", lambda event: on_send())
        self.apply_button.addEventListener("click", lambda event: on_apply())
        self.set_busy(False)

    def set_busy(self, busy):
        self.send_button.disabled = busy
        self.apply_button.disabled = busy

    def show_status(self, status):
        """Server federation, mode, round, global head version and last sync."""
        round_info = status["round"]
        applied = status["last_applied"]
        secure = status["mode"] == "secure"
        if secure:
            rules = status["secure"]
            self.privacy.textContent = (
                "Secure aggregation: your change is masked in this browser so that the server "
                + "learns only the sum over a round's " + str(rules.cohort_target)
                + " members (at least " + str(rules.min_cohort) + "); it never sees yours. "
                + "The shared head that results is published to every member. "
                + _privacy_sentence(status["privacy"]))
            progress = ("secure round " + str(round_info.id) + ", "
                        + (round_info.phase or round_info.status))
        else:
            self.privacy.textContent = (
                "Plain mode: the server receives your change itself (quantised to int8). Run "
                + "the server in secure mode so that it learns only sums.")
            progress = ("round " + str(round_info.id) + " " + round_info.status + ", "
                        + str(round_info.accepted) + " of " + str(status["min_updates"])
                        + " updates")
        self.status.textContent = (
            "Federation " + status["federation"] + " (" + ", ".join(status["labels"]) + "): "
            + progress + "; global head v"
            + str(status["head_version"]) + ". Last applied: "
            + ("v" + str(applied["version"]) + " at " + _when(applied["time"]) if applied
               else "never")
            + ".")

    def show_unreachable(self, message):
        self.status.textContent = "Federation: " + message

    def show_progress(self, progress):
        """A step of a secure round this page takes part in."""
        self.sent.textContent = ("Secure round " + str(progress["round"]) + ": "
                                 + progress["phase"] + (" — " + progress["detail"]
                                                        if progress["detail"] else "") + ".")
        return None

    def show_sent(self, sent):
        if sent["mode"] == "secure":
            self.sent.textContent = (
                "Secure round " + str(sent["round"]) + " " + sent["outcome"] + ": this page "
                + "sent " + str(sent["bytes"]) + " bytes (public keys, sealed shares for the "
                + "others, " + _what_left(sent) + "). "
                + ("The new shared head is v" + str(sent["version"])
                   + ": Apply Aggregate to use it." if sent["outcome"] == "aggregated"
                   else "Nothing was published (" + (sent["detail"] or "too few members")
                   + ").")
                + " No text was sent.")
            return None
        self.sent.textContent = (
            "Sent " + str(sent["bytes"]) + " bytes to round " + str(sent["round"]) + ": delta norm "
            + sent["norm"].toFixed(3)
            + (" (clipped to the server's bound)" if sent["clipped"] else "")
            + ", from " + str(sent["examples"]) + " examples, base head v"
            + str(sent["base_version"])
            + (". The round closed: Apply Aggregate to use the new head." if sent["round_closed"]
               else ". " + str(sent["accepted_in_round"]) + " update(s) in this round so far.")
            + " No text was sent.")
