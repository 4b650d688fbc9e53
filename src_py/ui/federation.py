"""DOM of the federation controls: Send Delta, Apply Aggregate, federation status."""
from ui.dom import element


def _when(iso):
    return "never" if not iso else iso[:19].replace("T", " ") + " UTC"


class FederationPanel:
    def __init__(self):
        self.send_button = element("send-delta")
        self.apply_button = element("apply-aggregate")
        self.status = element("fl-status")
        self.sent = element("fl-sent")

    def enable(self, on_send, on_apply):
        self.send_button.addEventListener("click", lambda event: on_send())
        self.apply_button.addEventListener("click", lambda event: on_apply())
        self.set_busy(False)

    def set_busy(self, busy):
        self.send_button.disabled = busy
        self.apply_button.disabled = busy

    def show_status(self, status):
        """Server federation, round, global head version and last sync."""
        round_info = status["round"]
        applied = status["last_applied"]
        self.status.textContent = (
            "Federation " + status["federation"] + " (" + ", ".join(status["labels"]) + "): round "
            + str(round_info.id) + " " + round_info.status + ", " + str(round_info.accepted)
            + " of " + str(status["min_updates"]) + " updates; global head v"
            + str(status["head_version"]) + ". Last applied: "
            + ("v" + str(applied["version"]) + " at " + _when(applied["time"]) if applied
               else "never")
            + ".")

    def show_unreachable(self, message):
        self.status.textContent = "Federation: " + message

    def show_sent(self, sent):
        self.sent.textContent = (
            "Sent " + str(sent["bytes"]) + " bytes to round " + str(sent["round"]) + ": delta norm "
            + sent["norm"].toFixed(3)
            + (" (clipped to the server's bound)" if sent["clipped"] else "")
            + ", from " + str(sent["examples"]) + " examples, base head v"
            + str(sent["base_version"])
            + (". The round closed: Apply Aggregate to use the new head." if sent["round_closed"]
               else ". " + str(sent["accepted_in_round"]) + " update(s) in this round so far.")
            + " No text was sent.")
