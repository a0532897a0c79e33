"""What Twilio talks to: the /voice webhooks and everything that answers a call.

Owns the webhooks (`voice`), stepping a call through the flow and building its TwiML with
twilio's VoiceResponse (`twiml`), signature checks with twilio's RequestValidator
(`signatures`), Twilio's retries (`retries`), the live flow with reloads and the last good flow
(`live`), and the simulator that plays a call through the real webhooks (`simulator`).

May import: `ivr.audio`, `ivr.journeys`, `ivr.checks`, `ivr.flow`, and the shared `ivr.services`,
`ivr.settings`; never `ivr.admin` or `ivr.cli`.
"""
