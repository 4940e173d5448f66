#!/usr/bin/env python3
"""Generates the conformance corpora and the demo story (all fictional).

  tests/conformance/valid/*.json       one clean envelope per event type
  tests/conformance/malformed/*.json   one broken rule (or a few) per file
  deploy/demo/messages/*.json          the quick-start demo story

Run from the repository root: python3 tests/conformance/malformed/generate_corpus.py
The JSON uses the protobuf JSON mapping of ehx.exchange.v1.Envelope
(lowerCamelCase names). "expect" field paths use proto field names.
NHS numbers are from the 999 test range with correct Modulus 11 check digits.
"""
import copy
import json
import os

ROOT = os.getcwd()
CASE = "EH-2026-000123"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
UPN = "urn:ehx:id:upn"


def code(system, c, display="", version="", original=None):
    d = {"system": system, "code": c}
    if version:
        d["version"] = version
    if display:
        d["display"] = display
    d["originalValue"] = c if original is None else original
    return d


def date(y, m, d):
    return {"year": y, "month": m, "day": d}


def practitioner(name, role, agency, pid, phone, email):
    return {
        "name": name, "role": role, "agencyId": agency, "practitionerId": pid,
        "contacts": [
            {"kind": "CONTACT_POINT_KIND_PHONE", "value": phone, "use": "work",
             "preferred": True},
            {"kind": "CONTACT_POINT_KIND_SECURE_EMAIL", "value": email,
             "use": "work"},
        ],
    }


LEAD = practitioner("Siobhán Kowalczyk", "Family support worker", "early-help",
                    "EH-STAFF-017", "+441632960101",
                    "siobhan.kowalczyk@early-help.example.org")
DSL = practitioner("Renée Adebayo-Nowak", "Designated safeguarding lead",
                   "school-oakfield", "OAK-DSL-1", "+441632960202",
                   "dsl@oakfield.example.sch.uk")
HV = practitioner("Mairéad Kelly", "Health visitor", "health-visiting",
                  "HV-0449", "+441632960303", "m.kelly@hv.example.nhs.uk")
CSC_MANAGER = practitioner("Dariusz Østergaard", "Team manager, Contact Point",
                           "csc-front-door", "CP-TM-04", "+441632960404",
                           "contactpoint@csc.example.gov.uk")
SOCIAL_WORKER = practitioner("Chidi Łukasiewicz", "Social worker",
                             "csc-front-door", "CP-SW-11", "+441632960505",
                             "c.lukasiewicz@csc.example.gov.uk")

ZOE = {
    "personId": "p-zoe",
    "identifiers": [
        {"system": NHS, "value": "9990000034",
         "verification": "VERIFICATION_STATUS_VERIFIED",
         "sourceVerification": code(
             "https://fhir.hl7.org.uk/CodeSystem/"
             "UKCore-NHSNumberVerificationStatusEngland",
             "01", "Number present and verified")},
        {"system": UPN, "value": "R820999925001",
         "verification": "VERIFICATION_STATUS_UNVERIFIED",
         "assignerAgencyId": "school-oakfield"},
        {"system": "urn:ehx:id:agency:early-help:raise-person-id",
         "value": "RP-100234", "assignerAgencyId": "early-help"},
    ],
    "legalName": {"given": "Zoë", "family": "Ó Súilleabháin-Wiśniewski"},
    "preferredName": {"given": "Zoë"},
    "dateOfBirth": date(2019, 5, 14),
    "sex": code("urn:ehx:code:cin-census:sex", "F", "Female", "2024-25"),
    "ethnicity": code("urn:ehx:code:cin-census:ethnicity", "MOTH",
                      "Any other mixed background", "2024-25"),
    "firstLanguage": code("urn:ietf:bcp:47", "en", "English"),
    "interpreterNeeded": "YES_NO_UNKNOWN_NO",
    "senProvision": code("urn:ehx:code:cbds:sen-provision", "K", "SEN support"),
    "senNeeds": [code("urn:ehx:code:cbds:sen-type", "SLCN",
                      "Speech, language and communication needs")],
    "youngCarer": "YES_NO_UNKNOWN_NO",
    "addresses": [{"lines": ["14 Rowan Court"], "town": "Stockton-on-Tees",
                   "postcode": "TS18 1AA", "country": "GB"}],
}
MOTHER = {
    "personId": "p-aoife",
    "identifiers": [{"system": NHS, "value": "9990000042",
                     "verification": "VERIFICATION_STATUS_UNVERIFIED"}],
    "legalName": {"given": "Aoife", "family": "Ó Súilleabháin"},
    "dateOfBirth": date(1991, 11, 2),
    "sex": code("urn:ehx:code:cin-census:sex", "F", "Female", "2024-25"),
    "firstLanguage": code("urn:ietf:bcp:47", "en", "English"),
    "interpreterNeeded": "YES_NO_UNKNOWN_NO",
    "addresses": [{"lines": ["14 Rowan Court"], "town": "Stockton-on-Tees",
                   "postcode": "TS18 1AA", "country": "GB"}],
    "contacts": [{"kind": "CONTACT_POINT_KIND_PHONE", "value": "+447700900123",
                  "use": "mobile", "preferred": True}],
}
FATHER = {
    "personId": "p-tomasz",
    "identifiers": [{"system": NHS, "value": "9990000050",
                     "verification": "VERIFICATION_STATUS_UNVERIFIED"}],
    "legalName": {"given": "Tomasz", "family": "Wiśniewski"},
    "dateOfBirth": date(1988, 7, 30),
    "sex": code("urn:ehx:code:cin-census:sex", "M", "Male", "2024-25"),
    "firstLanguage": code("urn:ietf:bcp:47", "pl", "Polish"),
    "interpreterNeeded": "YES_NO_UNKNOWN_NO",
    "addresses": [{"lines": ["3 Vane Street"], "town": "Darlington",
                   "postcode": "DL1 1AA", "country": "GB"}],
}
RELATIONSHIPS = [
    {"personId": "p-aoife", "relatedPersonId": "p-zoe",
     "type": "RELATIONSHIP_TYPE_MOTHER",
     "typeCode": code("urn:ehx:code:cbds:contact-relationship", "PAM",
                      "Parent/mother"),
     "parentalResponsibility": "YES_NO_UNKNOWN_YES",
     "livesInHousehold": "YES_NO_UNKNOWN_YES",
     "absentParentStatus": "ABSENT_PARENT_STATUS_NOT_APPLICABLE"},
    {"personId": "p-tomasz", "relatedPersonId": "p-zoe",
     "type": "RELATIONSHIP_TYPE_FATHER",
     "typeCode": code("urn:ehx:code:cbds:contact-relationship", "PAF",
                      "Parent/father"),
     "parentalResponsibility": "YES_NO_UNKNOWN_YES",
     "livesInHousehold": "YES_NO_UNKNOWN_NO",
     "absentParentStatus": "ABSENT_PARENT_STATUS_ENGAGED",
     "notes": "Sees Zoë alternate weekends."},
]
FAMILY = {
    "familyId": "fam-0001",
    "identifiers": [{"system": "urn:ehx:id:sf-family-id", "value": "SF-88120"}],
    "households": [
        {"householdId": "h1", "memberPersonIds": ["p-zoe", "p-aoife"],
         "address": {"lines": ["14 Rowan Court"], "town": "Stockton-on-Tees",
                     "postcode": "TS18 1AA", "country": "GB"}},
        {"householdId": "h2", "memberPersonIds": ["p-tomasz"]},
    ],
    "relationships": RELATIONSHIPS,
}
LON3 = {"scheme": "urn:ehx:lon:stockton-2024", "level": "3",
        "label": "Targeted multi-agency early help",
        "decidedOn": date(2026, 1, 12)}
LON4 = {"scheme": "urn:ehx:lon:stockton-2024", "level": "4",
        "label": "Specialist / statutory", "decidedOn": date(2026, 2, 20)}


def env(key, event, occurred, payload_name, payload, correlation=None):
    e = {"idempotencyKey": key, "caseRef": CASE, "eventType": event,
         "occurredAt": occurred}
    if correlation:
        e["correlationId"] = correlation
    e[payload_name] = payload
    return e


CASE_OPENED = env("eh-case-opened-000123", "EVENT_TYPE_CASE_OPENED",
                  "2026-01-12T10:00:00Z", "caseOpened", {
    "caseId": CASE, "status": "CASE_STATUS_OPEN", "levelOfNeed": LON3,
    "leadPractitioner": LEAD,
    "agenciesInvolved": ["early-help", "school-oakfield", "health-visiting"],
    "children": [ZOE],
    "identifiers": [{"system": "urn:ehx:id:agency:early-help:raise-case-id",
                     "value": "RC-55012"}],
    "familyMembers": [MOTHER, FATHER], "family": FAMILY,
    "origin": "CASE_ORIGIN_NEW", "requestedOn": date(2026, 1, 8),
    "openedOn": date(2026, 1, 12), "allocatedOn": date(2026, 1, 12),
    "consentIds": ["consent-0001"],
})

CAF = env("eh-caf-000123-1", "EVENT_TYPE_CAF_NOTIFICATION",
          "2026-01-26T15:20:00Z", "cafNotification", {
    "assessmentId": "eha-0001", "levelOfNeed": LON3, "leadPractitioner": LEAD,
    "agenciesInvolved": ["early-help", "school-oakfield", "health-visiting"],
    "children": [ZOE], "kind": "ASSESSMENT_KIND_ASSESSMENT",
    "status": "ASSESSMENT_STATUS_COMPLETED", "startedOn": date(2026, 1, 14),
    "completedOn": date(2026, 1, 26), "consentId": "consent-0001",
})

ELEMENTS = [
    ("ASSESSMENT_DOMAIN_CHILD_DEVELOPMENT", e, s, n, l) for e, s, n, l in [
        ("ASSESSMENT_ELEMENT_HEALTH", "Immunisations up to date.",
         "Speech therapy waiting list.", "NEED_LEVEL_LOW"),
        ("ASSESSMENT_ELEMENT_EMOTIONAL_SOCIAL_DEVELOPMENT",
         "Close to her mother.", "Anxious at drop-off.", "NEED_LEVEL_MEDIUM"),
        ("ASSESSMENT_ELEMENT_BEHAVIOURAL_DEVELOPMENT", "Calm at home.",
         "Outbursts at school.", "NEED_LEVEL_MEDIUM"),
        ("ASSESSMENT_ELEMENT_IDENTITY", "Proud of speaking Polish with Dad.",
         "", "NEED_LEVEL_NONE"),
        ("ASSESSMENT_ELEMENT_FAMILY_SOCIAL_RELATIONSHIPS",
         "Regular contact with father.", "Few friends in class.",
         "NEED_LEVEL_LOW"),
        ("ASSESSMENT_ELEMENT_SELF_CARE", "Dresses herself.", "",
         "NEED_LEVEL_NONE"),
        ("ASSESSMENT_ELEMENT_LEARNING", "Enjoys reading.",
         "Attendance 88% this term.", "NEED_LEVEL_MEDIUM"),
    ]] + [
    ("ASSESSMENT_DOMAIN_PARENTING_CAPACITY", e, s, n, l) for e, s, n, l in [
        ("ASSESSMENT_ELEMENT_BASIC_CARE_SAFETY", "Home warm and clean.",
         "Mother's low mood some mornings.", "NEED_LEVEL_MEDIUM"),
        ("ASSESSMENT_ELEMENT_EMOTIONAL_WARMTH_STABILITY",
         "Affectionate relationship.", "", "NEED_LEVEL_LOW"),
        ("ASSESSMENT_ELEMENT_GUIDANCE_BOUNDARIES_STIMULATION",
         "Bedtime routine agreed.", "Routine slips at weekends.",
         "NEED_LEVEL_LOW"),
    ]] + [
    ("ASSESSMENT_DOMAIN_FAMILY_AND_ENVIRONMENT", e, s, n, l) for e, s, n, l in [
        ("ASSESSMENT_ELEMENT_FAMILY_HISTORY_FUNCTIONING",
         "Parents co-operate about contact.", "", "NEED_LEVEL_LOW"),
        ("ASSESSMENT_ELEMENT_WIDER_FAMILY", "Grandmother nearby.", "",
         "NEED_LEVEL_NONE"),
        ("ASSESSMENT_ELEMENT_HOUSING_EMPLOYMENT_FINANCE", "Secure tenancy.",
         "Rent arrears.", "NEED_LEVEL_MEDIUM"),
        ("ASSESSMENT_ELEMENT_SOCIAL_COMMUNITY_RESOURCES",
         "Uses the family hub.", "", "NEED_LEVEL_NONE"),
    ]]

ASSESSMENT = env("eh-assessment-0001-v1", "EVENT_TYPE_ASSESSMENT",
                 "2026-01-26T15:30:00Z", "assessment", {
    "assessmentId": "eha-0001", "caseId": CASE,
    "kind": "ASSESSMENT_KIND_ASSESSMENT",
    "form": code("urn:ehx:code:raise:form", "EHA", "Early Help Assessment"),
    "status": "ASSESSMENT_STATUS_COMPLETED", "version": 1,
    "reasonForAssessment": "School concerned about attendance and anxiety.",
    "children": [{
        "childPersonId": "p-zoe",
        "elements": [{"domain": d, "element": e, "strengths": s, "needs": n,
                      "needLevel": l} for d, e, s, n, l in ELEMENTS],
        "voiceOfChild": {"childPersonId": "p-zoe",
                         "method": "VOICE_METHOD_ACTIVITY",
                         "words": "I like it when Mummy walks me to school.",
                         "recordedOn": date(2026, 1, 20),
                         "recordedBy": LEAD},
    }],
    "parentViews": [
        {"personId": "p-aoife", "relationship": "RELATIONSHIP_TYPE_MOTHER",
         "absentParentStatus": "ABSENT_PARENT_STATUS_NOT_APPLICABLE",
         "participation": "PARENT_PARTICIPATION_CONTRIBUTED",
         "view": "I want help with mornings.", "recordedOn": date(2026, 1, 20)},
        {"personId": "p-tomasz", "relationship": "RELATIONSHIP_TYPE_FATHER",
         "absentParentStatus": "ABSENT_PARENT_STATUS_ENGAGED",
         "participation": "PARENT_PARTICIPATION_CONTRIBUTED",
         "view": "Happy to do school runs on Fridays.",
         "recordedOn": date(2026, 1, 22)},
    ],
    "analysis": "Needs are met with targeted support around routines.",
    "workingWell": "Both parents engaged.",
    "needsToChange": "School attendance; mother's wellbeing.",
    "factors": [{"kind": "FACTOR_KIND_RISK",
                 "description": "Maternal low mood.", "personId": "p-aoife",
                 "factorCode": code("urn:ehx:code:cin-census:assessment-factor",
                                    "4B", "Mental health: parent")},
                {"kind": "FACTOR_KIND_RESILIENCE",
                 "description": "Engaged father and grandmother."}],
    "levelOfNeed": LON3, "author": LEAD, "coAuthors": [DSL],
    "contributors": [{"practitioner": HV, "contribution": "Health history"}],
    "peoplePresentPersonIds": ["p-aoife", "p-zoe"],
    "startedOn": date(2026, 1, 14), "completedOn": date(2026, 1, 26),
    "consentId": "consent-0001", "checkedForExisting": "YES_NO_UNKNOWN_YES",
})

PLAN = env("eh-plan-0001-v1", "EVENT_TYPE_PLAN_UPDATED",
           "2026-02-02T11:00:00Z", "plan", {
    "planId": "plan-0001", "caseId": CASE, "version": 1,
    "agreedOn": date(2026, 2, 2), "agreedAtMeetingId": "taf-0001",
    "reviewOn": date(2026, 3, 16),
    "familyGoals": "Zoë gets to school on time and happy.",
    "assessmentId": "eha-0001",
    "actions": [{
        "actionId": "act-1",
        "need": {"childPersonId": "p-zoe",
                 "domain": "ASSESSMENT_DOMAIN_CHILD_DEVELOPMENT",
                 "element": "ASSESSMENT_ELEMENT_LEARNING",
                 "description": "Attendance"},
        "what": "Morning routine plan and breakfast club place.",
        "successMeasure": "Attendance above 95% over six weeks.",
        "owner": DSL, "startOn": date(2026, 2, 3), "dueOn": date(2026, 3, 16),
        "outcomeSought": "Zoë attends every day.",
        "status": "ACTION_STATUS_IN_PROGRESS",
        "progressNotes": [{"writtenAt": "2026-02-10T16:00:00Z",
                           "author": DSL, "text": "Started breakfast club."}],
    }, {
        "actionId": "act-2",
        "need": {"domain": "ASSESSMENT_DOMAIN_PARENTING_CAPACITY",
                 "element": "ASSESSMENT_ELEMENT_BASIC_CARE_SAFETY",
                 "description": "Mother's wellbeing"},
        "what": "Referral to talking therapies.",
        "successMeasure": "First appointment attended.",
        "owner": HV, "startOn": date(2026, 2, 3), "dueOn": date(2026, 2, 28),
        "outcomeSought": "Mother feels supported.",
        "status": "ACTION_STATUS_NOT_STARTED",
    }],
})

TAF = env("eh-taf-0001", "EVENT_TYPE_TAF_MEETING", "2026-02-02T12:30:00Z",
          "tafMeeting", {
    "meetingId": "taf-0001", "caseId": CASE,
    "kind": "TAF_MEETING_KIND_INITIAL", "heldAt": "2026-02-02T10:00:00Z",
    "venue": "Oakfield Primary, family room", "chair": LEAD,
    "attendees": [
        {"practitioner": LEAD, "role": "chair",
         "status": "ATTENDANCE_STATUS_PRESENT"},
        {"practitioner": DSL, "role": "school",
         "status": "ATTENDANCE_STATUS_PRESENT"},
        {"practitioner": HV, "role": "health",
         "status": "ATTENDANCE_STATUS_APOLOGIES", "reason": "Clinic."},
        {"personId": "p-aoife", "role": "mother",
         "status": "ATTENDANCE_STATUS_PRESENT"},
        {"personId": "p-tomasz", "role": "father",
         "status": "ATTENDANCE_STATUS_PRESENT"},
    ],
    "childAttended": "YES_NO_UNKNOWN_NO",
    "childContributions": [{"childPersonId": "p-zoe",
                            "method": "VOICE_METHOD_ACTIVITY",
                            "words": "Three houses drawing shared.",
                            "recordedOn": date(2026, 1, 30)}],
    "parentContributions": [{"personId": "p-aoife",
                             "relationship": "RELATIONSHIP_TYPE_MOTHER",
                             "participation": "PARENT_PARTICIPATION_CONTRIBUTED",
                             "view": "Agrees with the plan."}],
    "planId": "plan-0001", "planVersion": 1,
    "planReview": "Plan agreed.",
    "reviewOutcome": "REVIEW_OUTCOME_POSITIVE_CHANGE",
    "decisions": ["Plan v1 agreed", "Review in six weeks"],
    "nextMeetingOn": date(2026, 3, 16),
    "minutesDocumentIds": ["doc-0001"],
})

STEP_UP = env("eh-stepup-ref-0001", "EVENT_TYPE_STEP_UP_REFERRAL",
              "2026-02-20T14:30:00Z", "stepUpReferral", {
    "referralId": "ref-0001", "referrer": LEAD, "significantHarm": True,
    "children": [ZOE],
    "concerns": "Zoë disclosed at school that she was left alone overnight "
                "twice this week; mother's mental health has deteriorated.",
    "needs": "Immediate assessment of care arrangements.",
    "concernCodes": [code("urn:ehx:code:cin-census:assessment-factor", "16A",
                          "Neglect")],
    "urgency": "REFERRAL_URGENCY_URGENT",
    "otherChildrenAtRisk": "No other children in the household.",
    "whereabouts": [{"childPersonId": "p-zoe",
                     "description": "At school until 15:15, then with "
                                    "maternal grandmother.",
                     "confirmedAt": "2026-02-20T14:00:00Z"}],
    "informationSource": "INFORMATION_SOURCE_MIXED",
    "informationSourceDetail": "Disclosure to class teacher (third-party); "
                               "home visit observations (first-hand).",
    "parentsInformed": "YES_NO_UNKNOWN_YES",
    "parentsConsent": "REFERRAL_CONSENT_GIVEN",
    "parentsViews": "Mother agrees she needs more help; father informed and "
                    "offers to have Zoë stay with him.",
    "childViews": [{"childPersonId": "p-zoe",
                    "method": "VOICE_METHOD_CONVERSATION",
                    "words": "I get scared when Mummy doesn't come home.",
                    "recordedOn": date(2026, 2, 20)}],
    "earlyHelpHistory": {"assessmentIds": ["eha-0001"],
                         "planIds": ["plan-0001"], "tafMeetingsHeld": 2,
                         "startedOn": date(2026, 1, 12),
                         "summary": "EHA, plan v1, two TAF meetings; "
                                    "attendance improved, home worsened."},
    "agenciesInvolved": ["early-help", "school-oakfield", "health-visiting"],
    "recontactInstructions": "Mobile any time today; duty line after 17:00.",
    "anonymityRequested": False,
    "householdMembers": [MOTHER],
    "relationships": RELATIONSHIPS,
    "legalBasis": {"kind": "LEGAL_BASIS_KIND_SAFEGUARDING",
                   "reason": "Reasonable cause to suspect risk of significant "
                             "harm (neglect).",
                   "decidedBy": LEAD, "decidedAt": "2026-02-20T14:20:00Z"},
    "referralSource": code("urn:ehx:code:cin-census:referral-source", "5D",
                           "LA services: early help", "2024-25"),
    "earlyHelpCaseId": CASE, "referredAt": "2026-02-20T14:30:00Z",
}, correlation="ref-0001")

OUTCOME = env("cp-outcome-ref-0001", "EVENT_TYPE_REFERRAL_OUTCOME",
              "2026-02-21T11:05:00Z", "referralOutcome", {
    "referralId": "ref-0001", "decision": "REFERRAL_DECISION_S17_ASSESSMENT",
    "decidedAt": "2026-02-21T11:00:00Z", "decidedBy": CSC_MANAGER,
    "feedback": "Thank you. Accepted for a child and family assessment "
                "under s17; a social worker will contact the family today.",
    "nextSteps": "Social worker allocated; early help to continue and join "
                 "the assessment visit.",
    "acknowledgedAt": "2026-02-20T15:10:00Z",
    "cinEpisode": {"cinEpisodeId": "CIN-2026-0456", "laChildId": "LA00998877",
                   "referralDate": date(2026, 2, 20),
                   "referralSource": code(
                       "urn:ehx:code:cin-census:referral-source", "5D",
                       "LA services: early help", "2024-25")},
    "allocatedTo": SOCIAL_WORKER,
}, correlation="ref-0001")

STEP_DOWN = env("cp-stepdown-cin-2026-0456", "EVENT_TYPE_STEP_DOWN",
                "2026-04-17T09:30:00Z", "stepDown", {
    "cinEpisodeId": "CIN-2026-0456", "leadPractitioner": LEAD,
    "closureReason": "RC9",
    "cinEpisode": {"cinEpisodeId": "CIN-2026-0456", "laChildId": "LA00998877",
                   "referralDate": date(2026, 2, 20),
                   "closureDate": date(2026, 4, 16),
                   "reasonForClosure": code(
                       "urn:ehx:code:cin-census:reason-for-closure", "RC9",
                       "Case closed after assessment, referred to early help",
                       "2024-25")},
    "closureSummary": "Assessment complete; care arrangements safe with "
                      "support; father has Zoë two nights a week.",
    "handover": {"jointVisit": "YES_NO_UNKNOWN_YES",
                 "handoverOn": date(2026, 4, 15),
                 "planCarriedOver": "YES_NO_UNKNOWN_YES",
                 "carriedOverPlanId": "plan-0001",
                 "familyConsentToEarlyHelp": "YES_NO_UNKNOWN_YES",
                 "consentId": "consent-0002"},
    "socialWorker": SOCIAL_WORKER, "children": [ZOE],
    "decidedOn": date(2026, 4, 14), "earlyHelpCaseId": CASE,
}, correlation="ref-0001")

CLOSURE = env("eh-closed-000123", "EVENT_TYPE_CASE_CLOSED",
              "2026-09-30T16:00:00Z", "caseClosure", {
    "reason": "Plan outcomes met and sustained.",
    "reasonCode": "CLOSURE_REASON_OUTCOMES_MET",
    "closedOn": date(2026, 9, 30), "closedBy": LEAD,
    "outcomes": [{"personId": "p-zoe", "area": "OUTCOME_AREA_GOOD_EDUCATION",
                  "description": "Attendance 97% for two terms."}],
    "familyFeedback": "Mornings are calmer.",
    "openActionsDisposal": "None open.",
})

DOCUMENT = env("eh-doc-0001", "EVENT_TYPE_DOCUMENT_ATTACHED",
               "2026-02-03T09:00:00Z", "document", {
    "documentId": "doc-0001",
    "contentSha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "mediaType": "application/pdf", "sizeBytes": "482113", "pageCount": 3,
    "source": "DOCUMENT_SOURCE_SCAN", "sourceDetail": "family-hub-scanner-2",
    "title": "TAF minutes 2 February 2026",
    "documentType": code("urn:ehx:code:document-type", "taf-minutes",
                         "TAF minutes"),
    "caseId": CASE, "linkedPersonIds": ["p-zoe", "p-aoife", "p-tomasz"],
    "linkedRecordIds": ["taf-0001"], "ocrStatus": "OCR_STATUS_FAILED",
    "capturedAt": "2026-02-03T08:55:00Z",
})

TEMP_UPN_ZOE = copy.deepcopy(ZOE)
TEMP_UPN_ZOE["identifiers"].append(
    {"system": "urn:ehx:id:former-upn", "value": "T82099992501K",
     "verification": "VERIFICATION_STATUS_TEMPORARY"})
PERSON_UPDATE = env("hv-person-zoe-1", "EVENT_TYPE_PERSON_UPDATED",
                    "2026-03-05T10:00:00Z", "personUpdate", {
    "person": TEMP_UPN_ZOE, "relationships": RELATIONSHIPS,
    "changeReason": "Permanent UPN confirmed by school.",
    "supersededIdentifiers": [{"system": UPN, "value": "T82099992501K",
                               "verification": "VERIFICATION_STATUS_TEMPORARY"}],
})

CONSENT = env("eh-consent-0001", "EVENT_TYPE_CONSENT_UPDATED",
              "2026-01-14T10:00:00Z", "consent", {
    "consentId": "consent-0001", "caseId": CASE,
    "givenByPersonId": "p-aoife", "givenByRole": "CONSENT_GIVER_ROLE_PARENT",
    "onBehalfOfPersonIds": ["p-zoe", "p-aoife"],
    "scopeAgencyIds": ["early-help", "school-oakfield", "health-visiting"],
    "scopePurposes": ["CONSENT_PURPOSE_ASSESSMENT",
                      "CONSENT_PURPOSE_INFORMATION_SHARING",
                      "CONSENT_PURPOSE_TAF", "CONSENT_PURPOSE_STORAGE"],
    "exclusions": "Nothing about the father's address to be shared.",
    "method": "CONSENT_METHOD_WRITTEN", "state": "CONSENT_STATE_GIVEN",
    "givenOn": date(2026, 1, 14), "reviewOn": date(2026, 7, 14),
    "childAgreement": "YES_NO_UNKNOWN_YES",
    "childCompetent": "YES_NO_UNKNOWN_NO", "recordedBy": LEAD,
    "documentId": "doc-consent-0001",
})

ATTENDANCE = env("oak-attendance-zoe-2025-26-t1", "EVENT_TYPE_ATTENDANCE_SUMMARY",
                 "2026-01-05T08:00:00Z", "attendanceSummary", {
    "pupil": ZOE, "academicYear": "2025/26", "schoolUrn": "100001",
    "schoolLaEstab": "8209999", "periodStart": date(2025, 9, 3),
    "periodEnd": date(2025, 12, 19), "sessionsPossible": 148,
    "sessionsAttended": 130, "sessionsAuthorisedAbsence": 10,
    "sessionsUnauthorisedAbsence": 8, "persistentAbsence": True,
    "severeAbsence": False,
})

OUTCOME_EVIDENCE = env("eh-sf-evidence-0001", "EVENT_TYPE_OUTCOME_EVIDENCE",
                       "2026-09-30T17:00:00Z", "outcomeEvidence", {
    "familyId": "SF-88120", "person": ZOE,
    "area": "OUTCOME_AREA_GOOD_EDUCATION",
    "outcomeDescriptor": code("urn:ehx:code:sf:descriptor", "EDU-1",
                              "Attendance above 90% for three terms"),
    "evidence": "Attendance 97% autumn 2026 term (school MIS summary).",
    "evidenceSource": "school attendance",
    "needIdentifiedOn": date(2026, 1, 12), "achievedOn": date(2026, 7, 22),
    "sustainedUntil": date(2026, 9, 30), "caseId": CASE,
})

VALID = {
    "case-opened": CASE_OPENED, "caf-notification": CAF,
    "assessment": ASSESSMENT, "plan-updated": PLAN, "taf-meeting": TAF,
    "step-up-referral": STEP_UP, "referral-outcome": OUTCOME,
    "step-down": STEP_DOWN, "case-closed": CLOSURE,
    "document-attached": DOCUMENT, "person-updated": PERSON_UPDATE,
    "consent-updated": CONSENT, "attendance-summary": ATTENDANCE,
    "outcome-evidence": OUTCOME_EVIDENCE,
}

DEMO = [("01-case-opened", CASE_OPENED), ("02-caf-notification", CAF),
        ("03-step-up-referral", STEP_UP), ("04-referral-outcome", OUTCOME),
        ("05-step-down", STEP_DOWN)]


def dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------
# Malformed cases: (short-name, description, base, mutate(env), expect)

def unset(path):
    def f(e):
        *head, last = path.split(".")
        o = e
        for h in head:
            o = o[int(h)] if isinstance(o, list) else o[h]
        del o[last]
    return f


def setv(path, value):
    def f(e):
        *head, last = path.split(".")
        o = e
        for h in head:
            o = o[int(h)] if isinstance(o, list) else o[h]
        if isinstance(o, list):
            o[int(last)] = value
        else:
            o[last] = value
    return f


def both(*fs):
    def f(e):
        for g in fs:
            g(e)
    return f


def exp(*pairs):
    return [{"field": f, "rule": r} for f, r in pairs]


NHS0 = "stepUpReferral.children.0.identifiers.0"
UPN1 = "stepUpReferral.children.0.identifiers.1"
NHSF = "step_up_referral.children[0].identifiers[0]"
UPNF = "step_up_referral.children[0].identifiers[1]"

MALFORMED = [
    # Envelope.
    ("missing-idempotency-key", "No idempotency key.", CASE_OPENED,
     unset("idempotencyKey"), exp(("idempotency_key", "required"))),
    ("idempotency-key-too-long", "Idempotency key of 129 characters.",
     CASE_OPENED, setv("idempotencyKey", "k" * 129),
     exp(("idempotency_key", "idempotency_key_too_long"))),
    ("idempotency-key-control-char", "Idempotency key with a tab.",
     CASE_OPENED, setv("idempotencyKey", "key\twith-tab"),
     exp(("idempotency_key", "idempotency_key_not_printable"))),
    ("idempotency-key-non-ascii", "Idempotency key with non-ASCII letters.",
     CASE_OPENED, setv("idempotencyKey", "clé-Zoë-1"),
     exp(("idempotency_key", "idempotency_key_not_printable"))),
    ("missing-case-ref", "No case reference.", CAF, unset("caseRef"),
     exp(("case_ref", "required"))),
    ("case-ref-with-spaces", "Case reference with spaces and a slash.", CAF,
     setv("caseRef", "EH 2026/000123"), exp(("case_ref", "case_ref_format"))),
    ("case-ref-too-long", "Case reference of 65 characters.", CAF,
     setv("caseRef", "EH-" + "1" * 62), exp(("case_ref", "case_ref_format"))),
    ("event-type-unspecified", "Event type left unset.", CAF,
     unset("eventType"), exp(("event_type", "required"))),
    ("event-type-unknown-number", "Event type number not in the enum.", CAF,
     setv("eventType", 99), exp(("event_type", "event_type_unknown"))),
    ("event-type-payload-mismatch", "STEP_UP_REFERRAL event carrying a plan.",
     PLAN, setv("eventType", "EVENT_TYPE_STEP_UP_REFERRAL"),
     exp(("event_type", "event_type_payload_mismatch"))),
    ("payload-missing", "Event type set, no payload.", CAF,
     unset("cafNotification"), exp(("payload", "required"))),
    ("non-delivery-published", "A client tries to publish a non-delivery "
     "notice.", CAF, both(unset("cafNotification"),
                          setv("eventType", "EVENT_TYPE_NON_DELIVERY"),
                          setv("nonDelivery", {"messageId": "01J0000000",
                                               "recipientAgency": "school-oakfield",
                                               "reason": "ttl_expired"})),
     exp(("event_type", "non_delivery_not_publishable"),
         ("non_delivery", "non_delivery_not_publishable"))),
    ("ttl-negative", "Negative time to live.", CAF, setv("ttl", "-30s"),
     exp(("ttl", "ttl_negative"))),
    ("occurred-at-missing", "No occurred_at.", CAF, unset("occurredAt"),
     exp(("occurred_at", "required"))),
    ("occurred-at-future", "occurred_at in 2099.", CAF,
     setv("occurredAt", "2099-01-01T00:00:00Z"),
     exp(("occurred_at", "occurred_at_in_future"))),
    ("occurred-at-before-1900", "occurred_at in 1899.", CAF,
     setv("occurredAt", "1899-12-31T23:59:59Z"),
     exp(("occurred_at", "occurred_at_too_old"))),
    ("extra-recipient-empty", "Empty extra recipient.", CAF,
     setv("extraRecipients", ["school-oakfield", ""]),
     exp(("extra_recipients[1]", "required"))),
    # Identifiers.
    ("nhs-number-bad-check-digit", "NHS number with a wrong check digit.",
     STEP_UP, setv(NHS0 + ".value", "9990000019"),
     exp((NHSF + ".value", "nhs_number_modulus11"))),
    ("nhs-number-impossible-stem", "NHS number whose stem gives check 10.",
     STEP_UP, setv(NHS0 + ".value", "9990000140"),
     exp((NHSF + ".value", "nhs_number_modulus11"))),
    ("nhs-number-nine-digits", "NHS number with nine digits.", STEP_UP,
     setv(NHS0 + ".value", "999000001"),
     exp((NHSF + ".value", "nhs_number_format"))),
    ("nhs-number-with-spaces", "NHS number stored with spaces.", STEP_UP,
     setv(NHS0 + ".value", "999 000 0034"),
     exp((NHSF + ".value", "nhs_number_format"))),
    ("nhs-number-placeholder", "NHS number of ten nines.", STEP_UP,
     setv(NHS0 + ".value", "9999999999"),
     exp((NHSF + ".value", "nhs_number_placeholder"))),
    ("nhs-number-legacy-system-bad", "Bad check digit under the CareConnect "
     "namespace.", STEP_UP,
     both(setv(NHS0 + ".system", "http://fhir.nhs.net/Id/nhs-number"),
          setv(NHS0 + ".value", "9990000035")),
     exp((NHSF + ".value", "nhs_number_modulus11"))),
    ("nhs-number-in-household-member", "Household member with a bad NHS "
     "number.", STEP_UP,
     setv("stepUpReferral.householdMembers.0.identifiers.0.value",
          "9990000043"),
     exp(("step_up_referral.household_members[0].identifiers[0].value",
          "nhs_number_modulus11"))),
    ("upn-bad-check-letter", "UPN with the wrong check letter.", STEP_UP,
     setv(UPN1 + ".value", "A820999925001"),
     exp((UPNF + ".value", "upn_check_letter"))),
    ("upn-twelve-chars", "UPN of 12 characters.", STEP_UP,
     setv(UPN1 + ".value", "R82099992500"),
     exp((UPNF + ".value", "upn_format"))),
    ("upn-lower-case", "UPN in lower case.", STEP_UP,
     setv(UPN1 + ".value", "r820999925001"),
     exp((UPNF + ".value", "upn_format"))),
    ("upn-letter-o", "UPN using the letter O (never used).", STEP_UP,
     setv(UPN1 + ".value", "R82099992501O"),
     exp((UPNF + ".value", "upn_format"))),
    ("upn-temporary-not-flagged", "Temporary UPN marked UNVERIFIED.", STEP_UP,
     setv(UPN1 + ".value", "T82099992501K"),
     exp((UPNF + ".verification", "upn_temporary_not_flagged"))),
    ("upn-permanent-flagged-temporary", "Permanent UPN marked TEMPORARY.",
     STEP_UP, setv(UPN1 + ".verification", "VERIFICATION_STATUS_TEMPORARY"),
     exp((UPNF + ".verification", "upn_permanent_flagged_temporary"))),
    ("former-upn-bad-check", "Former UPN with a wrong check letter.",
     PERSON_UPDATE, setv("personUpdate.person.identifiers.3.value",
                         "B82099992501K"),
     exp(("person_update.person.identifiers[3].value", "upn_check_letter"))),
    ("identifier-missing-system", "Identifier without a system.", STEP_UP,
     unset(NHS0 + ".system"), exp((NHSF + ".system", "required"))),
    ("identifier-missing-value", "Identifier without a value.", CASE_OPENED,
     unset("caseOpened.identifiers.0.value"),
     exp(("case_opened.identifiers[0].value", "required"))),
    # Dates and people.
    ("date-feb-30", "Date of birth 30 February.", CASE_OPENED,
     setv("caseOpened.children.0.dateOfBirth", date(2019, 2, 30)),
     exp(("case_opened.children[0].date_of_birth", "date_invalid"))),
    ("date-month-13", "Plan review in month 13.", PLAN,
     setv("plan.reviewOn", date(2026, 13, 1)),
     exp(("plan.review_on", "date_invalid"))),
    ("date-feb-29-non-leap", "29 February 2025 (not a leap year).",
     CONSENT, setv("consent.reviewOn", date(2025, 2, 29)),
     exp(("consent.review_on", "date_invalid"))),
    ("date-year-zero", "Date with year 0 (day and month only).", TAF,
     setv("tafMeeting.nextMeetingOn", {"month": 3, "day": 16}),
     exp(("taf_meeting.next_meeting_on", "date_invalid"))),
    ("date-of-birth-future", "Date of birth in 2099.", CASE_OPENED,
     setv("caseOpened.familyMembers.0.dateOfBirth", date(2099, 1, 1)),
     exp(("case_opened.family_members[0].date_of_birth",
          "date_of_birth_in_future"))),
    ("edd-for-born-child", "Expected date of delivery on a born child.",
     CASE_OPENED,
     setv("caseOpened.children.0.expectedDateOfDelivery", date(2019, 5, 20)),
     exp(("case_opened.children[0].expected_date_of_delivery",
          "edd_only_for_unborn"))),
    ("unborn-with-date-of-birth", "Unborn child with a date of birth.",
     CASE_OPENED, both(setv("caseOpened.children.0.unborn", True),
                       setv("caseOpened.children.0.expectedDateOfDelivery",
                            date(2026, 6, 1))),
     exp(("case_opened.children[0].date_of_birth",
          "unborn_with_date_of_birth"))),
    ("unborn-without-edd", "Unborn child without an expected date.",
     CASE_OPENED, both(setv("caseOpened.children.0.unborn", True),
                       unset("caseOpened.children.0.dateOfBirth")),
     exp(("case_opened.children[0].expected_date_of_delivery",
          "edd_required_for_unborn"))),
    # Case opened / CAF / assessment.
    ("case-id-mismatch", "Payload case id differs from case_ref.",
     CASE_OPENED, setv("caseOpened.caseId", "EH-2026-000999"),
     exp(("case_opened.case_id", "case_id_mismatch"))),
    ("case-opened-no-children", "Case opened with no child of focus.",
     CASE_OPENED, setv("caseOpened.children", []),
     exp(("case_opened.children", "required"))),
    ("case-opened-status-unset", "Case opened without a status.",
     CASE_OPENED, unset("caseOpened.status"),
     exp(("case_opened.status", "required"))),
    ("case-opened-step-down-no-episode", "Step-down origin without the CIN "
     "episode.", CASE_OPENED, setv("caseOpened.origin", "CASE_ORIGIN_STEP_DOWN"),
     exp(("case_opened.cin_episode", "step_down_origin_requires_cin_episode"))),
    ("caf-no-assessment-id", "CAF notification without assessment id.", CAF,
     unset("cafNotification.assessmentId"),
     exp(("caf_notification.assessment_id", "required"))),
    ("caf-completed-before-started", "CAF completed before it started.", CAF,
     setv("cafNotification.completedOn", date(2026, 1, 2)),
     exp(("caf_notification.completed_on", "date_range_reversed"))),
    ("assessment-element-wrong-domain", "Housing element filed under child "
     "development.", ASSESSMENT,
     setv("assessment.children.0.elements.0.element",
          "ASSESSMENT_ELEMENT_HOUSING_EMPLOYMENT_FINANCE"),
     exp(("assessment.children[0].elements[0].domain",
          "assessment_element_domain_mismatch"))),
    ("assessment-father-view-missing-reason", "Father's view not sought, no "
     "reason.", ASSESSMENT,
     both(setv("assessment.parentViews.1.participation",
               "PARENT_PARTICIPATION_NOT_SOUGHT"),
          unset("assessment.parentViews.1.view")),
     exp(("assessment.parent_views[1].reason", "parent_view_reason_required"))),
    # Plan and TAF.
    ("plan-action-no-owner", "Plan action without an owner.", PLAN,
     unset("plan.actions.0.owner"),
     exp(("plan.actions[0].owner", "plan_action_owner_required"))),
    ("plan-action-no-due-date", "Plan action without a due date.", PLAN,
     unset("plan.actions.1.dueOn"),
     exp(("plan.actions[1].due_on", "plan_action_due_date_required"))),
    ("plan-action-due-before-start", "Plan action due before it starts.",
     PLAN, setv("plan.actions.0.dueOn", date(2026, 1, 1)),
     exp(("plan.actions[0].due_on", "date_range_reversed"))),
    ("taf-no-held-at", "TAF meeting without a date.", TAF,
     unset("tafMeeting.heldAt"), exp(("taf_meeting.held_at", "required"))),
    ("taf-not-invited-no-reason", "Father not invited, no reason.", TAF,
     setv("tafMeeting.attendees.4.status", "ATTENDANCE_STATUS_NOT_INVITED"),
     exp(("taf_meeting.attendees[4].reason",
          "taf_not_invited_reason_required"))),
    # Step-up (formats-reference 1.7).
    ("step-up-no-concerns", "Referral without the concern.", STEP_UP,
     unset("stepUpReferral.concerns"),
     exp(("step_up_referral.concerns", "required"))),
    ("step-up-significant-harm-not-stated", "significant_harm absent.",
     STEP_UP, unset("stepUpReferral.significantHarm"),
     exp(("step_up_referral.significant_harm",
          "step_up_significant_harm_not_stated"))),
    ("step-up-no-children", "Referral with no child.", STEP_UP,
     setv("stepUpReferral.children", []),
     exp(("step_up_referral.children", "required"))),
    ("step-up-child-not-identified", "Child with neither name nor "
     "identifier.", STEP_UP,
     setv("stepUpReferral.children.0", {"personId": "p-zoe",
                                        "dateOfBirth": date(2019, 5, 14)}),
     exp(("step_up_referral.children[0]", "step_up_child_not_identified"))),
    ("step-up-referrer-no-agency", "Referrer without an agency.", STEP_UP,
     unset("stepUpReferral.referrer.agencyId"),
     exp(("step_up_referral.referrer.agency_id", "required"))),
    ("step-up-referrer-no-name", "Referrer without a name.", STEP_UP,
     unset("stepUpReferral.referrer.name"),
     exp(("step_up_referral.referrer.name", "required"))),
    ("step-up-referrer-no-contact", "No way to re-contact the referrer.",
     STEP_UP, both(unset("stepUpReferral.referrer.contacts"),
                   unset("stepUpReferral.recontactInstructions")),
     exp(("step_up_referral.referrer.contacts",
          "step_up_referrer_contact_required"))),
    ("step-up-no-whereabouts", "Child's whereabouts not given.", STEP_UP,
     unset("stepUpReferral.whereabouts"),
     exp(("step_up_referral.whereabouts", "step_up_whereabouts_required"))),
    ("step-up-whereabouts-blank", "Whereabouts entry with no description and "
     "not marked unknown.", STEP_UP,
     unset("stepUpReferral.whereabouts.0.description"),
     exp(("step_up_referral.whereabouts[0].description",
          "step_up_whereabouts_required"))),
    ("step-up-whereabouts-other-child", "Whereabouts given for another "
     "child only.", STEP_UP,
     setv("stepUpReferral.whereabouts.0.childPersonId", "p-someone-else"),
     exp(("step_up_referral.children[0]", "step_up_whereabouts_required"))),
    ("step-up-parents-informed-unset", "Whether parents know is not stated.",
     STEP_UP, unset("stepUpReferral.parentsInformed"),
     exp(("step_up_referral.parents_informed", "required"))),
    ("step-up-parents-not-informed-no-reason", "Parents not told, no reason.",
     STEP_UP, setv("stepUpReferral.parentsInformed", "YES_NO_UNKNOWN_NO"),
     exp(("step_up_referral.parents_not_informed_reason",
          "step_up_parents_not_informed_reason_required"))),
    ("step-up-consent-not-sought-no-reason", "Consent not sought and no "
     "reason anywhere.", STEP_UP,
     both(setv("stepUpReferral.parentsConsent", "REFERRAL_CONSENT_NOT_SOUGHT"),
          unset("stepUpReferral.legalBasis.reason")),
     exp(("step_up_referral.parents_consent",
          "step_up_consent_not_sought_reason_required"),
         ("step_up_referral.legal_basis.reason",
          "legal_basis_reason_required"))),
    ("step-up-no-urgency", "Urgency not stated.", STEP_UP,
     unset("stepUpReferral.urgency"),
     exp(("step_up_referral.urgency", "required"))),
    ("step-up-no-information-source", "First-hand / third-party not stated.",
     STEP_UP, unset("stepUpReferral.informationSource"),
     exp(("step_up_referral.information_source", "required"))),
    ("step-up-legal-basis-no-decider", "Sharing without consent, no "
     "decision maker.", STEP_UP, unset("stepUpReferral.legalBasis.decidedBy"),
     exp(("step_up_referral.legal_basis.decided_by",
          "legal_basis_decision_maker_required"))),
    ("step-up-legal-basis-kind-unset", "Legal basis without a kind.",
     STEP_UP, unset("stepUpReferral.legalBasis.kind"),
     exp(("step_up_referral.legal_basis.kind", "required"))),
    ("step-up-legal-basis-consent-no-id", "Consent basis without the consent "
     "record.", STEP_UP,
     setv("stepUpReferral.legalBasis.kind", "LEGAL_BASIS_KIND_CONSENT"),
     exp(("step_up_referral.legal_basis.consent_id", "required"))),
    # Referral outcome.
    ("outcome-no-decision", "Referral outcome without a decision.", OUTCOME,
     unset("referralOutcome.decision"),
     exp(("referral_outcome.decision", "required"))),
    ("outcome-no-referral-id", "Outcome without the referral id.", OUTCOME,
     unset("referralOutcome.referralId"),
     exp(("referral_outcome.referral_id", "required"))),
    ("outcome-no-decided-at", "Outcome without the decision time.", OUTCOME,
     unset("referralOutcome.decidedAt"),
     exp(("referral_outcome.decided_at", "required"))),
    ("outcome-decided-in-future", "Decision time in 2099.", OUTCOME,
     setv("referralOutcome.decidedAt", "2099-02-21T11:00:00Z"),
     exp(("referral_outcome.decided_at", "decided_at_in_future"))),
    ("outcome-no-correlation-id", "Outcome without the referral's "
     "correlation id.", OUTCOME, unset("correlationId"),
     exp(("correlation_id", "correlation_id_required"))),
    # Step-down.
    ("step-down-not-rc9", "Step-down closed with RC8.", STEP_DOWN,
     setv("stepDown.closureReason", "RC8"),
     exp(("step_down.closure_reason", "step_down_reason_rc9"))),
    ("step-down-no-reason", "Step-down without a closure reason.", STEP_DOWN,
     unset("stepDown.closureReason"),
     exp(("step_down.closure_reason", "step_down_reason_rc9"))),
    ("step-down-no-lead-practitioner", "Step-down with no lead practitioner.",
     STEP_DOWN, unset("stepDown.leadPractitioner"),
     exp(("step_down.lead_practitioner",
          "step_down_lead_practitioner_required"))),
    ("step-down-lead-no-agency", "Lead practitioner without an agency.",
     STEP_DOWN, unset("stepDown.leadPractitioner.agencyId"),
     exp(("step_down.lead_practitioner",
          "step_down_lead_practitioner_required"))),
    ("step-down-no-episode", "Step-down without the CIN episode.", STEP_DOWN,
     both(unset("stepDown.cinEpisodeId"), unset("stepDown.cinEpisode")),
     exp(("step_down.cin_episode_id", "required"))),
    # Closure, documents, person update.
    ("closure-no-reason", "Case closed without a reason.", CLOSURE,
     both(unset("caseClosure.reason"), unset("caseClosure.reasonCode")),
     exp(("case_closure.reason_code", "required"))),
    ("closure-no-date", "Case closed without a date.", CLOSURE,
     unset("caseClosure.closedOn"), exp(("case_closure.closed_on", "required"))),
    ("document-bad-sha256", "Document hash in upper case and short.",
     DOCUMENT, setv("document.contentSha256", "9F86D081884C7D65"),
     exp(("document.content_sha256", "document_sha256_format"))),
    ("document-negative-pages", "Negative page count.", DOCUMENT,
     setv("document.pageCount", -1),
     exp(("document.page_count", "negative_count"))),
    ("document-no-media-type", "Document without a media type.", DOCUMENT,
     unset("document.mediaType"), exp(("document.media_type", "required"))),
    ("person-update-no-person", "Person update without the person.",
     PERSON_UPDATE, unset("personUpdate.person"),
     exp(("person_update.person", "required"))),
    # Consent.
    ("consent-no-giver", "Consent without who gave it.", CONSENT,
     unset("consent.givenByPersonId"),
     exp(("consent.given_by_person_id", "consent_giver_required"))),
    ("consent-no-agency-scope", "Consent without agencies in scope.",
     CONSENT, unset("consent.scopeAgencyIds"),
     exp(("consent.scope_agency_ids", "consent_scope_required"))),
    ("consent-no-purpose-scope", "Consent without purposes.", CONSENT,
     unset("consent.scopePurposes"),
     exp(("consent.scope_purposes", "consent_scope_required"))),
    ("consent-no-subject", "Consent on behalf of nobody.", CONSENT,
     unset("consent.onBehalfOfPersonIds"),
     exp(("consent.on_behalf_of_person_ids", "consent_subject_required"))),
    ("consent-withdrawn-no-date", "Withdrawn consent without the date.",
     CONSENT, setv("consent.state", "CONSENT_STATE_WITHDRAWN"),
     exp(("consent.withdrawn_on", "consent_withdrawn_date_required"))),
    ("consent-state-unset", "Consent without a state.", CONSENT,
     unset("consent.state"), exp(("consent.state", "required"))),
    # Attendance and outcome evidence.
    ("attendance-bad-academic-year", "Academic year 2025/27.", ATTENDANCE,
     setv("attendanceSummary.academicYear", "2025/27"),
     exp(("attendance_summary.academic_year", "academic_year_format"))),
    ("attendance-exceeds-possible", "More sessions than possible.",
     ATTENDANCE, setv("attendanceSummary.sessionsAttended", 140),
     exp(("attendance_summary.sessions_possible",
          "attendance_sessions_exceed_possible"))),
    ("attendance-negative", "Negative unauthorised absence.", ATTENDANCE,
     setv("attendanceSummary.sessionsUnauthorisedAbsence", -2),
     exp(("attendance_summary.sessions_unauthorised_absence",
          "negative_count"))),
    ("attendance-period-reversed", "Period ends before it starts.",
     ATTENDANCE, setv("attendanceSummary.periodEnd", date(2025, 9, 1)),
     exp(("attendance_summary.period_end", "date_range_reversed"))),
    ("outcome-evidence-no-area", "Outcome evidence without an area.",
     OUTCOME_EVIDENCE, unset("outcomeEvidence.area"),
     exp(("outcome_evidence.area", "required"))),
    ("outcome-evidence-no-family", "Outcome evidence without a family id.",
     OUTCOME_EVIDENCE, unset("outcomeEvidence.familyId"),
     exp(("outcome_evidence.family_id", "required"))),
    # Unmapped native content (Envelope.unmapped).
    ("unmapped-path-missing", "An unmapped fragment without its path.", CAF,
     setv("unmapped", [{"mediaType": "application/json", "raw": "{}"}]),
     exp(("unmapped[0].path", "required"))),
    ("unmapped-path-too-long", "An unmapped fragment's path of 513 "
     "characters.", CAF,
     setv("unmapped", [{"path": "$." + "p" * 511, "mediaType":
                        "application/json", "raw": "1"}]),
     exp(("unmapped[0].path", "unmapped_path_too_long"))),
    ("unmapped-raw-too-long", "An unmapped fragment over 64 KiB.", CAF,
     setv("unmapped", [{"path": "$.cases[0].riskMatrix", "mediaType":
                        "application/json",
                        "raw": "\"" + "x" * 65535 + "\""}]),
     exp(("unmapped[0].raw", "unmapped_raw_too_long"))),
    ("unmapped-too-many", "257 unmapped fragments in one message.", CAF,
     setv("unmapped", [{"path": "$.x%d" % i, "mediaType":
                        "application/json", "raw": "0"}
                       for i in range(257)]),
     exp(("unmapped", "unmapped_too_many"))),
    # Several at once.
    ("step-up-several-broken", "Bad NHS number, temporary UPN unflagged and "
     "no whereabouts in one referral.", STEP_UP,
     both(setv(NHS0 + ".value", "9990000027"),
          setv(UPN1 + ".value", "T82099992501K"),
          unset("stepUpReferral.whereabouts")),
     exp((NHSF + ".value", "nhs_number_modulus11"),
         (UPNF + ".verification", "upn_temporary_not_flagged"),
         ("step_up_referral.whereabouts", "step_up_whereabouts_required"))),
]


def main():
    valid_dir = os.path.join(ROOT, "tests/conformance/valid")
    bad_dir = os.path.join(ROOT, "tests/conformance/malformed")
    demo_dir = os.path.join(ROOT, "deploy/demo/messages")
    for name, e in VALID.items():
        dump(os.path.join(valid_dir, name + ".json"),
             {"description": "Clean " + name + " envelope for case " + CASE +
              " (fictional family).", "envelope": e})
    for name, e in DEMO:
        dump(os.path.join(demo_dir, name + ".json"), e)
    for f in os.listdir(bad_dir):
        if f.endswith(".json"):
            os.remove(os.path.join(bad_dir, f))
    for i, (name, desc, base, mutate, expect) in enumerate(MALFORMED, 1):
        e = copy.deepcopy(base)
        e["idempotencyKey"] = "malformed-%03d-%s" % (i, name)
        mutate(e)
        dump(os.path.join(bad_dir, "%03d-%s.json" % (i, name)),
             {"description": desc, "expect": expect, "envelope": e})
    print(len(VALID), "valid,", len(MALFORMED), "malformed,", len(DEMO), "demo")


if __name__ == "__main__":
    main()
