"""The peer-to-peer part of the federation panel: the server / peer-to-peer choice, Join,
Gossip and Leave, the connected peers, the round and the head's accuracy estimate."""
from services.errors import describe
from settings import DEFAULT_FEDERATION
from ui.dom import cell, element

SERVER_CONTROLS = ["send-delta", "apply-aggregate", "fl-sent", "fl-privacy"]


def _percent(value):
    return "—" if value is None else (value * 100).toFixed(1) + " %"


def _when(iso):
    return "never" if not iso else iso[11:19] + " UTC"


class PeersPanel:
    """DOM and handlers of the peer-to-peer controls, acting on ``gossip`` (a GossipClient);
    results and errors go to ``page``'s status line."""

    def __init__(self, gossip, page):
        self.gossip = gossip
        self.page = page
        self.mode = element("fl-mode")
        self.panel = element("p2p-panel")
        self.rounds = element("p2p-rounds")
        self.join_button = element("p2p-join")
        self.gossip_button = element("p2p-gossip")
        self.leave_button = element("p2p-leave")
        self.status = element("p2p-status")
        self.list = element("p2p-peers")
        self.timer = None

    def enable(self):
        self.mode.addEventListener("change", lambda event: self.show_mode())
        self.join_button.addEventListener("click", lambda event: self.join())
        self.gossip_button.addEventListener("click", lambda event: self.run())
        self.leave_button.addEventListener("click", lambda event: self.leave())
        self.show_mode()
        self.show()
        return None

    def show_mode(self):
        """Show the controls of the chosen kind of federation only."""
        peers = self.mode.value == "peers"
        self.panel.hidden = not peers
        for control in SERVER_CONTROLS:
            element(control).hidden = peers
        return None

    def show(self):
        """The state of the peer-to-peer membership, from the gossip client."""
        status = self.gossip.status()
        joined = status["me"] is not None
        self.join_button.disabled = joined
        self.gossip_button.disabled = not joined or status["running"]
        self.leave_button.disabled = not joined
        if not joined:
            self.status.textContent = "Peer to peer: not joined."
            self.list.replaceChildren()
            return None
        open_count = len([p for p in status["peers"] if p["state"] == "open"])
        self.status.textContent = (
            "Peer " + str(status["me"]) + " of " + status["federation"] + ": "
            + str(open_count) + " of " + str(len(status["peers"])) + " neighbours connected; "
            + ("round " + str(status["round"]) if status["round"] is not None
               else "not started")
            + (" (catching up)" if status["catching_up"] else "")
            + "; accuracy on " + str(status["held_out"]) + " held-out examples "
            + _percent(status["accuracy"]) + "; sent " + str(status["sent_bytes"]) + " bytes.")
        items = []
        for peer in status["peers"]:
            items.append(cell("li", "peer " + str(peer["id"]) + ": " + peer["state"]
                              + ", last exchange " + _when(peer["last_exchange"])))
        self.list.replaceChildren(*items)
        return None

    def _follow(self, on):
        if on and self.timer is None:
            self.timer = setInterval(lambda: self.show(), 1000)
        if not on and self.timer is not None:
            clearInterval(self.timer)
            self.timer = None
        return None

    async def _guarded(self, work):
        try:
            message = await work()
            self.page.show_status(message, "ready")
        except:  # noqa: E722
            self.page.show_status(describe(__except0__), "error")
        self.show()
        return None

    async def join(self):
        async def work():
            self.join_button.disabled = True
            joined = await self.gossip.join(DEFAULT_FEDERATION)
            self._follow(True)
            return ("Joined the peers of " + joined["federation"] + " as peer "
                    + str(joined["id"]) + ": " + str(joined["neighbours"]) + " neighbours.")

        await self._guarded(work)
        return None

    async def run(self):
        rounds = int(self.rounds.value) if self.rounds.value else 1

        async def work():
            self.gossip_button.disabled = True
            entries = await self.gossip.gossip(max(1, rounds), False)
            last = entries[len(entries) - 1]
            return ("Gossiped " + str(len(entries)) + " rounds with " + str(last["peers"])
                    + " peers: held-out accuracy " + _percent(last["accuracy"])
                    + ". Your texts stayed in this browser.")

        await self._guarded(work)
        return None

    async def leave(self):
        async def work():
            self.gossip.leave()
            self._follow(False)
            return "Left the peers; this page keeps its head."

        await self._guarded(work)
        return None
